#!/usr/bin/env node
// The `convoy` executable (package.json "bin"): the compiled CLI. A plain JS file so it exists
// before the build; `npm ci` builds dist/ (the "prepare" script) and links this as
// node_modules/.bin/convoy through the package's link to itself, so `npx convoy` works.
import '../../dist/coordinator/cli/main.js';
