/** The tally kind's spec and the names its parts share (see ./plugin.ts). */
import * as z from 'zod';

export const TALLY_KIND = 'tally';

export const tallySpecSchema = z.object({
  bucket: z.string().min(3),
  count: z.number().int().min(1).max(100_000),
});
export type TallySpec = z.infer<typeof tallySpecSchema>;

export const tallyKey = (n: number) => `tally/${String(n).padStart(5, '0')}`;

/** The worker's stamp, set by the start hook from `--tally-stamp` (one worker per process). */
export const workerStamp = { value: 'unstamped' };
