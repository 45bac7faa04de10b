#!/usr/bin/env node
// The dallage command line (src/cli.ts, built to dist/src/cli.js by `npm run build`).
import { relaunchWithAllocatorSettings } from '../dist/src/allocator.js';

// Under glibc, the command runs again in a child with the allocator settings (src/allocator.ts).
if (!relaunchWithAllocatorSettings()) {
  const { run } = await import('../dist/src/cli.js');
  await run();
}
