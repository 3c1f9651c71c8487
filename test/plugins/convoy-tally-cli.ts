#!/usr/bin/env node
/** The convoy CLI with the test-only `tally` kind: the one line that adds a kind. */
import { runConvoy } from '../../coordinator/cli/program.js';
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { tallyPlugin } from './tally/plugin.js';

await runConvoy([...builtInKinds, tallyPlugin]);
