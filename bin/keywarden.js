#!/usr/bin/env node
// The CLI entry point; the TypeScript sources are compiled to dist/ by `npm install` (prepare).
import { run } from '../dist/cli/main.js';

process.exitCode = await run(process.argv);
