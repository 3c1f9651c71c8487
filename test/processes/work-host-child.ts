/**
 * A child for work-host.test.ts: a `convoy worker` child as the supervisor sees it (the host
 * link: state, CPU answers, shares), with no queue behind it. It writes the settings it was
 * started with and every share it is given to `$WORK_HOST_DIR/slot-<n>.jsonl`, and exits 0 on
 * SIGTERM as a drained worker does.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { ConvoyEmitter } from '../../shared/events.js';
import { childSettings, linkChild, releaseBarrier } from '../../worker/host-link.js';

const settings = childSettings()!;
const out = path.join(process.env.WORK_HOST_DIR!, `slot-${settings.slot}.jsonl`);
const record = (entry: object) => appendFileSync(out, `${JSON.stringify(entry)}\n`);
record({ started: settings });

const events = new ConvoyEmitter();
const worker = {
  id: settings.workerId,
  stop: async () => process.exit(0),
  resize: (shares: object) => record({ resized: shares }),
};
await linkChild(events, worker, releaseBarrier(), settings, pino({ level: 'silent' }));
events.safeEmit('worker:started', { workerId: worker.id });
process.once('SIGTERM', () => process.exit(0));
// a little CPU between the supervisor's samples, so each window's figure is above zero
setInterval(() => {
  const until = performance.now() + 2;
  while (performance.now() < until);
}, 20);
