#!/usr/bin/env node
// The npm registry mirror on this project's machines does not serve other platforms' optional
// binaries (e.g. @rollup/rollup-darwin-arm64 answers 404), so `npm install` leaves them out of
// package-lock.json and `npm ci` then rejects the lock as "out of sync". This adds the missing
// entries with their os/cpu (read from the package name, the convention these binary packages
// follow); npm skips them at install time because the platform does not match, so nothing is
// fetched. Idempotent: a complete lock is left as it is.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;
const OSES = new Set([
  'android',
  'darwin',
  'freebsd',
  'linux',
  'openbsd',
  'openharmony',
  'sunos',
  'win32',
  'netbsd',
  'aix',
]);
let added = 0;
for (const meta of Object.values({ ...packages })) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const parts = name.split('/').pop().split('-');
    const at = parts.findIndex((p) => OSES.has(p));
    if (at < 0 || !parts[at + 1]) continue; // not a per-platform binary: leave it to npm
    const [os, cpu, abi = ''] = parts.slice(at);
    const entry = { version, cpu: [cpu], optional: true, os: [os] };
    if (os === 'linux' && abi.includes('musl')) entry.libc = ['musl'];
    else if (os === 'linux' && abi.includes('gnu')) entry.libc = ['glibc'];
    if (meta.dev) entry.dev = true;
    packages[key] = entry;
    added++;
  }
}
if (added) {
  lock.packages = Object.fromEntries(
    Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
  );
  writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
}
console.log(`complete-lockfile: ${added} per-platform optional entr${added === 1 ? 'y' : 'ies'} added`);
