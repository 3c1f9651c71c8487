/**
 * The uploads run spec (stored in the run row) and the shapes of its items.
 * Item ids are deterministic, so re-planning and fleet-side expansion are idempotent:
 *   scan:<i>/<n>                 a parallel-scan segment of the consumer table (plan "all")
 *   customer:<did>               a customer: expands into its spaces
 *   space:<did>:<after>          one page of a space's uploads after root <after> ('' = start);
 *                                adds the uploads and the next page
 *   upload:<space>:<root>        one upload: the migration itself
 */
import * as z from 'zod';

export const MODES = ['migrate', 'verify-only', 'test-index', 'test-location-claims', 'dry-run', 'repair'] as const;
export type Mode = (typeof MODES)[number];

export const uploadsSpecSchema = z
  .object({
    target: z.discriminatedUnion('type', [
      z.object({ type: z.literal('all'), segments: z.number().int().min(1).max(1000).default(8) }).strict(),
      z.object({ type: z.literal('customers'), customers: z.array(z.string().startsWith('did:')).min(1) }).strict(),
      z.object({ type: z.literal('space'), space: z.string().startsWith('did:') }).strict(),
      z.object({ type: z.literal('upload'), space: z.string().startsWith('did:'), root: z.string().min(10) }).strict(),
    ]),
    /** at most this many uploads (planned by the coordinator, which then lists only that many) */
    limit: z.number().int().min(1).optional(),
    mode: z.enum(MODES).default('migrate'),
    /** uploads per space page item. @defaultValue 500 */
    pageSize: z.number().int().min(1).max(1000).default(500),
    /**
     * adaptive: the fleet backs off per remote service when it answers 429/503 and ramps up again
     * (peer-rates.ts); fixed: throttled requests are only retried with backoff. @defaultValue adaptive
     */
    rateControl: z.enum(['adaptive', 'fixed']).default('adaptive'),
    /** dry-run: what the time estimate assumes (defaults: report.ts DEFAULT_RATES, 1 worker) */
    estimate: z
      .object({
        workers: z.number().int().min(1).optional(),
        uploadsPerMinPerWorker: z.number().positive().optional(),
        indexMibPerSecPerWorker: z.number().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type UploadsSpec = z.infer<typeof uploadsSpecSchema>;

export type ItemSpec =
  | { type: 'scan'; segment: number; segments: number }
  | { type: 'customer'; customer: string }
  | { type: 'space'; customer: string; space: string; after: string }
  /** `shards`: the upload row's shards as listed when the item was made (saves re-reading the row); absent: read the row */
  | { type: 'upload'; customer: string; space: string; root: string; shards?: string[] };

/** Uploads with more shards than this carry none in their item (the item row stays small). */
export const MAX_SHARDS_IN_ITEM = 64;

export const itemIds = {
  scan: (segment: number, segments: number) => `scan:${segment}/${segments}`,
  customer: (customer: string) => `customer:${customer}`,
  space: (space: string, after: string) => `space:${space}:${after}`,
  upload: (space: string, root: string) => `upload:${space}:${root}`,
};
