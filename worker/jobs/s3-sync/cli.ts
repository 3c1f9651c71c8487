/**
 * `convoy plan s3-sync`: bucket pairs from --from/--to (rclone-style remote:bucket[/prefix]); a
 * `{}` in both is replaced by each name of --buckets (the lakehouse migration: rideshare-{} -> rideshare-123-{}).
 */
import type { Command } from 'commander';
import { planRun, newRunId, parseSpec } from '../../../coordinator/plan.js';
import { action } from '../../../coordinator/cli/errors.js';
import { nextStep, planThenWork, refuseWorkWithDryRun } from '../../../coordinator/cli/work-here.js';
import {
  configFrom,
  intOption,
  parseSize,
  positiveIntOption,
  rateControlOption,
  retryPolicyFrom,
  runIdOption,
  withContext,
  type RateControl,
} from '../../../coordinator/cli/globals.js';
import { parseRemotePath } from '../../../shared/config.js';
import { InputError } from '../../../shared/errors.js';
import { dryRunS3Sync, formatDryRun } from './dry-run.js';
import { dryRunVersions, formatVersionsEntry, type VersionsDryRunEntry } from './versions-dry-run.js';
import {
  CANNED_ACLS,
  objectPropertiesFromCli,
  STORAGE_CLASSES,
  type ObjectPropertiesCliOptions,
} from './object-properties.js';
import { s3SyncJob } from './job.js';
import { preflightS3Sync } from './preflight.js';

export interface S3SyncCliOptions extends ObjectPropertiesCliOptions {
  from: string;
  to: string;
  buckets?: string[];
  include?: string[];
  exclude?: string[];
  latestPrefix?: string[];
  latestBy?: string;
  sizeOnly?: boolean;
  createBuckets?: boolean;
  allVersions?: boolean;
  delete?: boolean;
  dryRun?: boolean;
  run?: string;
  multipartThreshold?: string;
  partSize?: string;
  rangeKeys?: number;
  partsPerItem?: number;
  copyMaxSize?: string;
  listMode?: string;
  bwlimit?: string;
  tpslimit?: string;
  rateControl?: RateControl;
  json?: boolean;
}

/** Build the raw spec from CLI options (validated afterwards by the kind's schema). */
export function specFromCli(o: S3SyncCliOptions): Record<string, unknown> {
  const templated = o.from.includes('{}') || o.to.includes('{}');
  if (templated && !o.buckets?.length)
    throw new InputError(
      '--from/--to contain {} but no --buckets were given (e.g. --buckets bronze silver gold checkpoints)',
    );
  if (!templated && o.buckets?.length)
    throw new InputError(
      '--buckets needs a {} in --from and --to to substitute (e.g. --from minio:rideshare-{} --to aws:rideshare-123-{})',
    );
  refuseWithAllVersions(o);
  const names = templated ? o.buckets! : [''];
  const pairs = names.map((name) => {
    const from = parseRemotePath(o.from.replaceAll('{}', name), '--from');
    const to = parseRemotePath(o.to.replaceAll('{}', name), '--to');
    return { from, to };
  });
  const size = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    try {
      return parseSize(v);
    } catch (err) {
      throw new InputError(`${flag}: ${(err as Error).message}`);
    }
  };
  const bwlimit = size(o.bwlimit, '--bwlimit');
  if (bwlimit !== undefined && bwlimit < 1)
    throw new InputError(
      `--bwlimit: "${o.bwlimit}" is no rate; give bytes per second for the whole fleet, e.g. --bwlimit 50MiB`,
    );
  const tpslimit = o.tpslimit === undefined ? undefined : Number(o.tpslimit);
  if (tpslimit !== undefined && !(tpslimit > 0))
    throw new InputError(
      `--tpslimit: "${o.tpslimit}" is not a positive number of objects per second for the whole fleet (e.g. --tpslimit 200)`,
    );
  if (o.partsPerItem !== undefined && o.partsPerItem < 1)
    throw new InputError(
      `--parts-per-item: ${o.partsPerItem} is not a positive number of parts; give the parts each child item copies, e.g. --parts-per-item 128`,
    );
  const copyMax = size(o.copyMaxSize, '--copy-max-size');
  if (copyMax !== undefined && copyMax < 1)
    throw new InputError(
      `--copy-max-size: "${o.copyMaxSize}" is no size; give the largest object the store copies with CopyObject, e.g. --copy-max-size 5GiB`,
    );
  return {
    pairs,
    include: o.include ?? [],
    exclude: o.exclude ?? [],
    latestPrefix: o.latestPrefix ?? [],
    latestBy: o.latestBy,
    sizeOnly: o.sizeOnly ?? false,
    createBuckets: o.createBuckets ?? false,
    allVersions: o.allVersions ?? false,
    delete: o.delete ?? false,
    multipartThresholdBytes: size(o.multipartThreshold, '--multipart-threshold'),
    partSizeBytes: size(o.partSize, '--part-size'),
    rangeMaxKeys: o.rangeKeys,
    partsPerItem: o.partsPerItem,
    s3Limits: copyMax === undefined ? undefined : { copyObjectMaxBytes: copyMax },
    listMode: o.listMode,
    bwlimitBytesPerSecond: bwlimit,
    tpsLimit: tpslimit,
    rateControl: o.rateControl,
    ...objectPropertiesFromCli(o),
  };
}

/** Flags that mean nothing for (or are not built for) --all-versions: refused, naming both. */
function refuseWithAllVersions(o: S3SyncCliOptions): void {
  if (!o.allVersions) return;
  const clash: Array<[boolean, string, string]> = [
    [(o.latestPrefix?.length ?? 0) > 0, '--latest-prefix', 'it picks one snapshot prefix by its newest objects'],
    [o.latestBy !== undefined, '--latest-by', 'it belongs to --latest-prefix'],
    [o.sizeOnly === true, '--size-only', 'versions are matched by their recorded source VersionId, not by size'],
  ];
  const hit = clash.find(([on]) => on);
  if (hit)
    throw new InputError(
      `--all-versions cannot be combined with ${hit[1]}: ${hit[2]}; drop ${hit[1]} (or --all-versions to copy only the newest versions)`,
    );
}

export function registerS3SyncPlanCommand(plan: Command): void {
  plan
    .command('s3-sync')
    .description('sync S3 buckets between remotes (MinIO, AWS, any S3 endpoint), byte for byte')
    .requiredOption('--from <remote:bucket[/prefix]>', 'source, e.g. minio:rideshare-bronze or minio:rideshare-{}')
    .requiredOption(
      '--to <remote:bucket[/prefix]>',
      'destination, e.g. aws:rideshare-123-bronze or aws:rideshare-123-{}',
    )
    .option('--buckets <names...>', 'names substituted for {} in --from/--to (several bucket pairs in one run)')
    .option('--include <glob...>', 're-include keys matching (aws-cli globs, relative to the prefix)')
    .option(
      '--exclude <glob...>',
      'exclude keys matching (aws-cli globs: * also crosses /, ? one character, [a-z] or [!a-z] a class), e.g. --exclude "*.json" --exclude "*/delta/*"',
    )
    .option('--latest-prefix <prefix...>', 'copy only the newest child prefix of each (e.g. snapshots/lines)')
    .option('--latest-by <how>', 'newest by "name" (default) or by "modified" time')
    .option('--size-only', 'skip objects whose size matches (do not compare checksums)')
    .option('--create-buckets', 'create missing destination buckets')
    .option(
      '--all-versions',
      'copy every version of each key, oldest first, into a versioned destination (with --delete, delete markers too)',
    )
    .option(
      '--delete',
      'also delete destination keys the source lacks (like aws s3 sync --delete), only within the synced prefixes and filters, each key range after its copies succeed',
    )
    .option(
      '--dry-run',
      'print per bucket what would be copied and skipped (with --delete, each key that would be deleted; with --all-versions, each version); write nothing',
    )
    .option('--run <id>', 'run id (default: generated); planning the same id again is a no-op', runIdOption)
    .option('--multipart-threshold <size>', 'multipart above this size (default 8MiB)')
    .option('--part-size <size>', 'multipart part size (default 8MiB)')
    .option('--range-keys <n>', 'keys per range item (default 500)', positiveIntOption('--range-keys'))
    .option(
      '--parts-per-item <n>',
      'an object copied by parts (over --copy-max-size, same endpoint) is spread over items of this many parts (default ~1GiB of parts)',
      intOption('--parts-per-item'),
    )
    .option(
      '--copy-max-size <size>',
      "the largest object the store copies with CopyObject (default 5GiB, S3's); larger ones are copied by parts",
    )
    .option('--bwlimit <size>', 'bytes copied per second by the whole fleet, e.g. 50MiB (split across live workers)')
    .option('--tpslimit <n>', 'objects copied per second by the whole fleet (split across live workers)')
    .option(
      '--rate-control <mode>',
      '"adaptive" (default): on throttling the fleet backs off per destination prefix and climbs again; "fixed": only the limits above',
      rateControlOption('only --tpslimit/--bwlimit'),
    )
    .option('--tags <mode>', '"copy" (default): each object keeps its tags; "none": destination objects get no tags')
    .option(
      '--storage-class <class>',
      `destination storage class (${STORAGE_CLASSES.join(', ')}), or "keep" for each source object's; default: the bucket's`,
    )
    .option('--sse <mode>', "server-side encryption of destination objects: AES256 or aws:kms; default: the bucket's")
    .option('--sse-kms-key-id <key>', 'with --sse aws:kms: the KMS key id, key ARN, alias name or alias ARN')
    .option('--acl <canned>', `canned ACL of destination objects (${CANNED_ACLS.join(', ')})`)
    .option(
      '--list-mode <mode>',
      '"auto": the first pages of top-level prefixes listed here, the rest by the fleet (default); "fleet": every top-level prefix listed by the fleet; "coordinator": everything listed here',
    )
    .option('--json', 'print the result as JSON')
    .action(
      action(async (o: S3SyncCliOptions, cmd: Command) => {
        const raw = specFromCli(o);
        if (o.dryRun) {
          refuseWorkWithDryRun(cmd);
          const config = configFrom(cmd);
          const spec = await preflightS3Sync(parseSpec(s3SyncJob, raw), config, { dryRun: true });
          // text: one line per key as found (flat memory); JSON: the keys in each pair's report
          const keys: string[][] = spec.pairs.map(() => []);
          // --all-versions: each version (or delete marker) that would be copied, per key oldest first
          const versions: Array<Array<Omit<Extract<VersionsDryRunEntry, { action: 'copy' }>, 'pair' | 'action'>>> =
            spec.pairs.map(() => []);
          const report = spec.allVersions
            ? await dryRunVersions(config, spec, (e) => {
                if (!o.json) process.stdout.write(`${formatVersionsEntry(spec, e)}\n`);
                else if (e.action === 'delete') keys[e.pair]!.push(e.location);
                else
                  versions[e.pair]!.push({
                    key: e.key,
                    versionId: e.versionId,
                    deleteMarker: e.deleteMarker,
                    size: e.size,
                  });
              })
            : await dryRunS3Sync(config, spec, (pair, location) =>
                o.json ? keys[pair]!.push(location) : process.stdout.write(`delete: ${location}\n`),
              );
          const json = () =>
            JSON.stringify(
              report.map((r, i) => ({
                ...r,
                ...(spec.allVersions ? { copyVersions: versions[i] } : {}),
                ...(r.delete ? { deleteKeys: keys[i] } : {}),
              })),
              null,
              2,
            );
          process.stdout.write((o.json ? json() : formatDryRun(report)) + '\n');
          return;
        }
        return withContext(cmd, async (ctx) => {
          const runId = o.run ?? newRunId('s3-sync');
          return planThenWork(
            cmd,
            ctx,
            runId,
            () => planRun(ctx, { kind: 's3-sync', runId, spec: raw, retry: retryPolicyFrom(cmd) }),
            (r) => {
              if (o.json)
                process.stdout.write(
                  JSON.stringify({
                    runId,
                    planned: r.planned,
                    itemsWritten: r.itemsWritten,
                    itemsEnqueued: r.itemsEnqueued,
                  }) + '\n',
                );
              else if (!r.planned)
                process.stdout.write(
                  `run ${runId} was already planned; nothing to do (convoy status --run ${runId})\n`,
                );
              else process.stdout.write(`run ${runId}: ${r.itemsEnqueued} item(s) enqueued. ${nextStep(cmd, runId)}\n`);
            },
            { json: o.json },
          );
        });
      }),
    );
}
