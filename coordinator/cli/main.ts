#!/usr/bin/env node
/**
 * The `convoy` command line: the composition root. The one module that imports both the engine
 * (./program.ts) and the job kinds (worker/jobs/builtin.ts), and puts them together.
 */
import module from 'node:module';

// Node 22.1+ keeps V8's compiled code of the modules it loads on disk (under the OS temp
// directory, or NODE_COMPILE_CACHE) and reuses it: every `convoy worker` process of a host starts
// with ~25% less CPU (measured on Node 24). Node 20 has no such cache. Before the imports below,
// which are dynamic so that the cache covers them.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// `plan --work` starts again with the node flags a process moving data needs (./relaunch.ts):
// asked before the program loads, which the relaunching process then never does.
const { relaunchIfNeeded } = await import('./relaunch.js');
if (!(await relaunchIfNeeded())) {
  const { builtInKinds } = await import('../../worker/jobs/builtin.js');
  const { runConvoy } = await import('./program.js');
  await runConvoy(builtInKinds);
}
