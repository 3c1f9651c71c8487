/**
 * piscina task: stream one CAR shard (a file or an S3 object) through the indexer, hashing the
 * whole shard and verifying every block against its CID, in a worker thread so the main thread
 * stays free for I/O. Returns positions only (never the shard's bytes), as a plain result object
 * so the error class survives the thread boundary.
 */
import { builtUrl } from '../../../shared/package-files.js';
import { indexShardResult, type ShardIndexResult, type ShardSource } from './shard-source.js';

/**
 * This module, as the thread pool addresses it (`pool.run(CAR_INDEX_TASK, input)`): its build in
 * dist/ by path (the CLI's bundle holds a copy of this code, not this module's file).
 */
export const CAR_INDEX_TASK = builtUrl('worker/jobs/uploads/car-index-task.js');

export interface CarIndexTaskInput {
  source: ShardSource;
  verifyBlocks?: boolean;
  label?: string;
}

export default async function carIndexTask(input: CarIndexTaskInput): Promise<ShardIndexResult> {
  return indexShardResult(input.source, { verifyBlocks: input.verifyBlocks, label: input.label });
}
