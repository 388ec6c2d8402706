// @ts-check
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

/** core/ files that are safe in a browser bundle (no Node built-ins at runtime): the console's. */
export const BROWSER_SAFE_CORE = [
  'codes.js',
  'governance.js',
  'model.js',
  'naming-pattern.js',
  'page.js',
  'permissions.js',
  'policy.js',
  'policy-preview.js',
  'problem-error.js',
];

/** core/ imports only its own files, node built-ins and these pure libraries. */
const CORE_ONLY = {
  regex: String.raw`^(?!node:|\./|re2js$|ipaddr\.js$)`,
  message: 'core/ is pure: only its own files, node: built-ins, re2js and ipaddr.js.',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'console/dist/**',
      'bench/results/**',
      '.dist-build-*/**',
      'console/.dist-build-*/**',
    ],
  },
  js.configs.recommended,
  {
    files: ['src/**/*.ts', 'console/src/**/*.{ts,tsx}'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  // Layer rules: one arrow runs up the layers (docs/architecture.md). Each block lists what a
  // folder may NOT import; src/testing/eslint-layers.test.ts proves each rule still fires.
  {
    // core/ is pure: node built-ins, its own files and a few pure libraries, nothing else.
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [CORE_ONLY] }],
    },
  },
  {
    // The core files the web console's bundle uses: no Node built-ins either (types are erased).
    files: BROWSER_SAFE_CORE.map((f) => `src/core/${f.replace(/\.js$/, '.ts')}`),
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            CORE_ONLY,
            {
              regex: '^node:',
              allowTypeImports: true,
              message: 'this core file is bundled into the web console: no Node built-ins.',
            },
          ],
        },
      ],
    },
  },
  {
    // core/'s own tests may use the shared test fixtures, but no outer layer.
    files: ['src/core/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: String.raw`^\.\./(?!core/|testing/key-record\.js$)`,
              message: 'core/ tests import only core/ and testing/key-record.',
            },
          ],
        },
      ],
    },
  },
  {
    // storage/ and runtime/ are adapters below the services: they never reach up.
    files: ['src/storage/**/*.ts', 'src/runtime/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: String.raw`^(\.\./)+(services|http|cli|sdk)/`,
              message: 'storage/ and runtime/ never import services/, http/, cli/ or sdk/.',
            },
          ],
        },
      ],
    },
  },
  {
    // One data-access style: every query is built in a storage/*-repo.ts (or storage/sqlite/);
    // services, HTTP, CLI and runtime call those functions (docs/architecture.md).
    files: ['src/services/**/*.ts', 'src/http/**/*.ts', 'src/cli/**/*.ts', 'src/runtime/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: String.raw`CallExpression[callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto|selectNoFrom)$/]`,
          message: 'build queries in a storage/*-repo.ts and call it from here.',
        },
        {
          selector: "TaggedTemplateExpression[tag.name='sql']",
          message: 'raw SQL belongs in a storage/*-repo.ts.',
        },
      ],
    },
  },
  {
    // The SDK ships to other people's processes: core/ and its own files, plus the frameworks.
    files: ['src/sdk/**/*.ts'],
    ignores: ['src/sdk/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: String.raw`^\.\./(?!core/)`, message: 'sdk/ imports only core/ and its own files.' },
          ],
        },
      ],
    },
  },
  {
    // The web console imports only the browser-safe core files from the server's tree.
    files: ['console/src/**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: String.raw`^(\.\./)+src/(?!core/(${BROWSER_SAFE_CORE.map((f) => f.replace('.', String.raw`\.`)).join('|')})$)`,
              message: `the console may import only these core files: ${BROWSER_SAFE_CORE.join(', ')}.`,
            },
          ],
        },
      ],
    },
  },
  {
    // The console: React's rules of hooks on top of the same strict TypeScript rules.
    files: ['console/src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        global: 'readonly',
      },
    },
  },
);
