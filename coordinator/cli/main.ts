#!/usr/bin/env node
/**
 * The `convoy` command line: the composition root. The one module that imports both the engine
 * (./program.ts) and the job kinds (worker/jobs/builtin.ts), and puts them together.
 */
import { builtInKinds } from '../../worker/jobs/builtin.js';
import { runConvoy } from './program.js';

await runConvoy(builtInKinds);
