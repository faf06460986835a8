#!/usr/bin/env node
// The operator command line; see `parley --help`. Build first (npm start or npm run build).
import { runCli } from '../dist/src/app/cli.js';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`parley: ${e?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
