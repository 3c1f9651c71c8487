/**
 * The fleet-probe kind's plugin (./probe-kind.ts is the kind): apart from it so that a process
 * that never works a probe item, such as a host's supervisor, never loads the kind's modules,
 * as with the built-in kinds (test/processes/host.test.ts checks what a supervisor loads).
 */
import type { KindPlugin } from '../../worker/job-kind.js';

export const probePlugin: KindPlugin = {
  name: 'fleet-probe', // the kind's PROBE_KIND: the registry checks that the two agree
  load: async () => (await import('./probe-kind.js')).probeKind,
};
