#!/usr/bin/env node
// The `stint` command. The CLI is TypeScript in cli/src, bundled by cli/build.ts into cli/dist (npm ci's `prepare`
// builds it), so that starting it is plain Node: no compiler at run time.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('stint: the CLI is not built; run `npm ci` (or `npm run cli:build`) in the Stint repository\n');
  process.exit(1);
}
await import(entry.href);
