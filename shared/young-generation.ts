/**
 * V8's young generation for the processes that move data (a host's worker processes, and the
 * lone ones that coordinator/cli/relaunch.ts starts again), in MiB per semi-space, fixed: Node
 * 20's largest size as both the least and the most.
 * - The most: Node 22 and 24 let it grow further (new space up to 128 MiB on Node 24.22 against 32
 *   on Node 20, `v8.getHeapSpaceStatistics()` of a process making short-lived objects), which an
 *   s3-sync worker fills with short-lived request objects before each scavenge: bench:s3
 *   (a) at 20,000 objects on Node 24.22, peak RSS per process 280-299 MiB with Node's default
 *   against 204-207 with this (target < 300), CPU per object 0.60-0.73 ms against 0.58-0.67 (2-3
 *   runs each, alternated).
 * - The least: V8 starts the young generation at 1 MiB and grows it only as objects survive, so a
 *   process streaming large objects scavenges every MiB, and the chunks of the bodies in flight
 *   (alive until the PUT's socket takes them) survive two scavenges and are promoted; their
 *   memory then comes back only with full collections. bench:s3 (b), 200 x 8 MiB through the
 *   counting proxies, `--trace-gc`: 41-81 Mark-Compacts per run without it, 1-3 with it, worker
 *   CPU per object 29-40 -> 18-27 ms, peak RSS the same (135-144 MiB).
 * Only a process's command line can give it: V8 sizes the heap when it makes it
 * (`v8.setFlagsFromString` later changes nothing), and Node refuses `--min-semi-space-size` in
 * NODE_OPTIONS.
 */
export const SEMI_SPACE_MIB = 16;

/**
 * V8 13.6 (Node 24.0) raised `scavenger_max_new_space_capacity_mb` from 8 to 32, and with it the
 * young ArrayBuffers' size at which V8 runs a Scavenge (32 -> 128 MB without pointer compression,
 * as Node is built) above the fixed 64 MB of external memory at which it starts a full collection:
 * short-lived Buffers, every socket read's chunk of a streamed body, are then reclaimed by
 * Mark-Compacts instead of Scavenges (nodejs/node#61967, #63863). bench:s3 (b) on Node 24.22,
 * `plan --work`: 71 Mark-Compacts and 2 Scavenges per run (Node 20: 1 and 101), 16-19 ms of CPU per
 * 8 MiB object against 11.5 with the old capacity back; `--max-semi-space-size` does not move that
 * trigger. Node 20 does not know the flag (and refuses it), Node 22 has 8 already.
 */
const SCAVENGER_CAPACITY_MB = 8;
const SCAVENGER_CAPACITY_RAISED_IN: readonly [number, number] = [13, 6];

/** Whether this V8 (`process.versions.v8`) has the raised scavenger capacity. */
export function hasRaisedScavengerCapacity(v8Version: string): boolean {
  const [major = 0, minor = 0] = v8Version.split('.').map(Number);
  const [atMajor, atMinor] = SCAVENGER_CAPACITY_RAISED_IN;
  return major > atMajor || (major === atMajor && minor >= atMinor);
}

/** A young-generation flag the operator gave (execArgv or NODE_OPTIONS): then we add none. */
const SIZES_YOUNG_GENERATION =
  /--(?:(?:max|min)[-_]semi[-_]space[-_]size|scavenger[-_]max[-_]new[-_]space[-_]capacity[-_]mb)\b/;

/**
 * The node flags that fix the young generation at SEMI_SPACE_MIB (and, on a V8 that raised it, the
 * scavenger's capacity back to 8 MB), or none when the operator sized it (in `execArgv` or
 * NODE_OPTIONS): their own flags win.
 */
export function youngGenerationArgs(
  execArgv: readonly string[],
  nodeOptions = '',
  v8Version = process.versions.v8,
): string[] {
  const sized = [...execArgv, nodeOptions].some((a) => SIZES_YOUNG_GENERATION.test(a));
  if (sized) return [];
  return [
    `--min-semi-space-size=${SEMI_SPACE_MIB}`,
    `--max-semi-space-size=${SEMI_SPACE_MIB}`,
    ...(hasRaisedScavengerCapacity(v8Version)
      ? [`--scavenger-max-new-space-capacity-mb=${SCAVENGER_CAPACITY_MB}`]
      : []),
  ];
}
