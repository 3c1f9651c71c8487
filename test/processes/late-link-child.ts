/**
 * A child for host-link.test.ts: waits until its parent has closed the IPC channel, then links
 * to it as a worker child does (linkChild), and says whether the link stopped its worker.
 */
import pino from 'pino';
import { ConvoyEmitter } from '../../shared/events.js';
import { linkChild, releaseBarrier } from '../../worker/host-link.js';

process.send?.('ready');
process.once('disconnect', () => {
  // the channel is gone before the link exists: what a child that was still starting sees
  setImmediate(async () => {
    const stopped: string[] = [];
    const worker = {
      id: 'late-p2',
      stop: async (signal?: string) => void stopped.push(signal ?? ''),
      resize: () => undefined,
    };
    const link = await linkChild(
      new ConvoyEmitter(),
      worker,
      releaseBarrier(),
      {
        slot: 2,
        processes: 2,
        supervisorPid: process.ppid,
        workerId: 'late-p2',
        concurrency: 1,
        transfers: 1,
        threads: 1,
        metrics: false,
      },
      pino({ level: 'silent' }),
    );
    link.close();
    process.stdout.write(JSON.stringify({ stopped }) + '\n');
  });
});
