/**
 * `node dist/test/bench/profile-summary.js FILE.cpuprofile... [--top N]`: where the CPU of each
 * profile went, by area (package, convoy folder, Node internals, GC) and hottest function, frames
 * of the CLI bundle attributed through its source maps. For the profiles bench:uploads writes
 * with BENCH_PROFILE_DIR (bench:s3 `--profile` prints its own report).
 */
import { parseArgs } from 'node:util';
import { formatProfile, readProfile, sourceMapped, summariseProfile } from './lib/cpu-profile.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, areas: { type: 'string', default: '20' } },
});
const top = Number(values.top);
const areas = Number(values.areas);
if (positionals.length === 0 || !Number.isInteger(top) || !Number.isInteger(areas)) {
  process.stderr.write(
    'profile-summary: give one or more .cpuprofile files; --top N and --areas N take whole numbers\n',
  );
  process.exit(2);
}
const sourceOf = sourceMapped();
for (const file of positionals)
  process.stdout.write(
    `${formatProfile(file, summariseProfile(readProfile(file), top, undefined, sourceOf), areas)}\n`,
  );
