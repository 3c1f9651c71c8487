#!/usr/bin/env node
/** The convoy CLI with the test-only `fleet-probe` kind added: one more plugin in the list. */
import { runConvoy } from '../../coordinator/cli/program.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { probePlugin } from './probe-plugin.js';

await runConvoy([...builtInKinds, probePlugin]);
