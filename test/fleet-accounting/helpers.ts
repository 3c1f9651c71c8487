/**
 * Shared by the fleet-accounting tests: s3-sync runs planned with the real CLI, worked by real
 * `convoy worker` processes, observed through the item rows (the truth) and the CLI's JSON.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { anyActiveItem, itemsOfRun } from '../../state/item-bulk.js';
import type { ItemRow } from '../../state/item-row.js';
import { getRun } from '../../state/runs.js';
import { putObjects, type GeneratedObject } from '../fixtures/s3-data.js';
import { runCli } from '../helpers/cli.js';
import { waitUntil, type TestEnv } from '../helpers/stack.js';

/** `n` objects under `prefix/` with sizes that differ (so a lost or doubled count shows in bytes). */
export async function seedObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  n: number,
  size: (i: number) => number,
): Promise<{ objects: GeneratedObject[]; bytes: number }> {
  const objects = Array.from({ length: n }, (_, i) => ({
    key: `${prefix}/o-${String(i).padStart(4, '0')}.bin`,
    size: size(i),
    contentType: 'application/octet-stream',
  }));
  await putObjects(s3, bucket, objects);
  return { objects, bytes: objects.reduce((a, o) => a + o.size, 0) };
}

/** `convoy plan s3-sync ...` with the real CLI; throws with its output when it fails. */
export async function planSync(config: string, args: string[]): Promise<void> {
  const r = await runCli(['plan', 's3-sync', ...args], { config });
  if (r.code !== 0) throw new Error(`plan failed (${r.code}): ${r.stderr}${r.stdout}`);
}

/** Every item row of a run. */
export async function itemRows(env: TestEnv, runId: string): Promise<ItemRow[]> {
  const rows: ItemRow[] = [];
  for await (const page of itemsOfRun(env.ctx.items, runId)) rows.push(...page);
  return rows;
}

/** The worker whose completion made the item done (from its history). */
export function completedBy(item: ItemRow): string | undefined {
  return [...(item.history ?? [])].reverse().find((h) => h.event === 'completed')?.worker;
}

/**
 * Wait until the run is planned and none of its items is pending, leased or retrying, read from
 * the item rows with consistent reads (state/item-bulk.ts anyActiveItem). Not from counts on the
 * status index: those are separate queries, one per status, and an item moving between two of
 * them (pending -> leased as the last item is taken) can be missed by both, so "nothing open"
 * could be read while the last item was still being copied.
 */
export async function waitFinished(env: TestEnv, runId: string, timeoutMs = 40_000): Promise<void> {
  await waitUntil(
    async () => {
      const run = await getRun(env.ctx.meta, runId);
      return Boolean(run?.planComplete) && !(await anyActiveItem(env.ctx.items, runId));
    },
    { timeoutMs, intervalMs: 200, what: `every item of run ${runId} finished` },
  );
}

/** Run the CLI and parse its JSON stdout (throws with stderr on a non-zero exit). */
export async function cliJson<T = any>(config: string, args: string[]): Promise<T> {
  const r = await runCli([...args, '--json'], { config });
  if (r.code !== 0) throw new Error(`convoy ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
