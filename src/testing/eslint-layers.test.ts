// The layer rules in eslint.config.js must keep firing: each case lints one import line, as a
// file in the named folder, with only the config's import rules (no type information needed).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RULE = '@typescript-eslint/no-restricted-imports';

interface Block {
  files?: unknown;
  ignores?: unknown;
  rules?: Record<string, unknown>;
}

async function layerConfig(): Promise<Linter.Config[]> {
  const mod = (await import(pathToFileURL(join(root, 'eslint.config.js')).href)) as { default: Block[] };
  const blocks = mod.default.filter((b) => b.rules?.[RULE] !== undefined);
  assert.ok(blocks.length >= 5, `expected the layer blocks in eslint.config.js, found ${blocks.length}`);
  return [
    {
      files: ['**/*.ts', '**/*.tsx'],
      languageOptions: { parser: tseslint.parser },
      plugins: {
        '@typescript-eslint': tseslint.plugin as unknown as NonNullable<Linter.Config['plugins']>[string],
      },
    },
    ...blocks.map(
      (b) =>
        ({
          files: b.files,
          ...(b.ignores !== undefined && { ignores: b.ignores }),
          rules: b.rules,
        }) as Linter.Config,
    ),
  ];
}

const CASES: [file: string, source: string, forbidden: boolean][] = [
  ['src/core/x.ts', "import { a } from '../storage/db.js';", true],
  ['src/core/x.ts', "import { a } from 'fastify';", true],
  ['src/core/x.ts', "import { a } from './keys.js';", false],
  ['src/core/x.ts', "import { createHash } from 'node:crypto';", false],
  ['src/core/x.ts', "import { RE2JS } from 're2js';", false],
  ['src/core/policy.ts', "import { createHash } from 'node:crypto';", true],
  ['src/core/policy.ts', "import type { Environment } from './keys.js';", false],
  ['src/storage/x.ts', "import { a } from '../services/verifier.js';", true],
  ['src/runtime/redis/x.ts', "import { a } from '../../http/app.js';", true],
  ['src/runtime/x.ts', "import { a } from '../core/ports.js';", false],
  ['src/sdk/x.ts', "import type { A } from '../services/verifier.js';", true],
  ['src/sdk/x.ts', "import type { A } from '../core/verify.js';", false],
  ['console/src/x.ts', "import { a } from '../../src/core/keys.js';", true],
  ['console/src/pages/x.tsx', "import { a } from '../../../src/http/app.js';", true],
  ['console/src/pages/x.tsx', "import { a } from '../../../src/core/codes.js';", false],
];

describe('eslint layer rules', () => {
  test('each folder rejects imports that run down the layers and accepts the allowed ones', async () => {
    const config = await layerConfig();
    const linter = new Linter({ cwd: root });
    for (const [file, source, forbidden] of CASES) {
      const messages = linter.verify(`${source}\nexport const z = a;\n`, config, join(root, file));
      const hits = messages.filter((m) => m.ruleId === RULE);
      const fatal = messages.filter((m) => m.fatal === true);
      assert.deepEqual(fatal, [], `${file}: ${source} did not parse`);
      assert.equal(hits.length, forbidden ? 1 : 0, `${file}: ${source}`);
    }
  });
});
