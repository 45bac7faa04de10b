#!/usr/bin/env node
// The dallage command line (src/cli.ts, built to dist/src/cli.js by `npm run build`).
import { run } from '../dist/src/cli.js';

await run();
