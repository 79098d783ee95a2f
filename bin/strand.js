#!/usr/bin/env node
// Entry point of the `strand` command; the code lives in dist/ (built by `npm install`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/main/cli.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('strand: dist/ is missing; run `npm install` (or `npm run build`) first');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
