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

  test('queries are built only in storage/: services, HTTP, CLI and runtime call repositories', async () => {
    const mod = (await import(pathToFileURL(join(root, 'eslint.config.js')).href)) as { default: Block[] };
    const blocks = mod.default.filter((b) => b.rules?.['no-restricted-syntax'] !== undefined);
    assert.ok(blocks.length >= 1, 'the query rule is in eslint.config.js');
    const config: Linter.Config[] = [
      { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
      ...blocks.map((b) => ({ files: b.files, ignores: b.ignores, rules: b.rules }) as Linter.Config),
    ];
    const linter = new Linter({ cwd: root });
    const query = 'export const q = (db: any) => db.selectFrom("keys").selectAll().execute();';
    const raw = 'export const q = (db: any) => sql`select 1`.execute(db);';
    const call = 'export const q = (db: any) => findKey(db, "key_1");';
    const cases: [string, string, boolean][] = [
      ['src/services/x.ts', query, true],
      ['src/http/routes/x.ts', query, true],
      ['src/cli/commands/x.ts', raw, true],
      ['src/runtime/usage/x.ts', query, true],
      ['src/services/x.ts', call, false],
      ['src/storage/x-repo.ts', query, false],
      ['src/services/x.test.ts', query, false],
    ];
    for (const [file, source, forbidden] of cases) {
      const messages = linter.verify(source, config, join(root, file));
      assert.deepEqual(
        messages.filter((m) => m.fatal === true),
        [],
        `${file}: did not parse`,
      );
      const hits = messages.filter((m) => m.ruleId === 'no-restricted-syntax');
      assert.equal(hits.length, forbidden ? 1 : 0, `${file}: ${source}`);
    }
  });
});
