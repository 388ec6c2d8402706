// `npm run docs:config`: rewrites the README's configuration tables (between the config:start and
// config:end markers) from the configuration table in src/config.ts, formatted by prettier.
// Needs the compiled dist/ (the npm script builds first). `--check` only reports a difference.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { readmeSection, replaceReadmeSection } = await import(join(root, 'dist', 'config', 'docs.js'));
const file = join(root, 'README.md');
const before = readFileSync(file, 'utf8');
const options = (await prettier.resolveConfig(file)) ?? {};
const after = await prettier.format(replaceReadmeSection(before, readmeSection()), {
  ...options,
  filepath: file,
});
if (after === before) {
  console.log('README.md configuration tables are up to date');
} else if (process.argv.includes('--check')) {
  console.error('README.md configuration tables differ from src/config.ts: run `npm run docs:config`');
  process.exit(1);
} else {
  writeFileSync(file, after);
  console.log('README.md configuration tables rewritten from src/config.ts');
}
