// @ts-check
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const childProcessBan = ['child_process', 'node:child_process'].map((name) => ({
  name,
  message: 'external commands go through src/core/runner.ts',
}));

// Schemas import z from src/core/zod.ts: zod/mini with zod's English
// messages installed. One import of classic 'zod' would put its 393 KB chunk
// back on every start, and a schema built without the locale would print
// "Invalid input" (docs/benchmarks.md, issue 19).
const zodBan = ['zod', 'zod/mini', 'zod/v4', 'zod/v4/core', 'zod/v4/mini', 'zod/v4/classic'].map((name) => ({
  name,
  message: "import * as z from '<…>/core/zod.js' (zod/mini with the English messages; src/core/zod.ts)",
}));

// docs/design.md "Root and the user's files": in src/sync every file
// operation goes through src/sync/fs-boundary.ts (the user's tree as that
// user; root's own private temp). A new node:fs import elsewhere in
// src/sync is a review stop: move the operation into that module.
const syncFsBan = ['fs', 'node:fs', 'fs/promises', 'node:fs/promises'].map((name) => ({
  name,
  message:
    'file operations of src/sync go through src/sync/fs-boundary.ts (root never touches the dotfiles user\'s tree; docs/design.md "Root and the user\'s files")',
}));

// docs/design.md "Layers": the folders of src/, from the bottom up. An
// import goes down, never up; within the capability layer never sideways
// either (two capabilities that need the same thing move it down a layer).
// Within the other layers a folder may import its neighbours.
const LAYERS = [
  ['core'],
  ['shared', 'failure', 'health', 'host'],
  ['golden'],
  ['boot-validate', 'upgrade', 'sync'],
  ['status', 'report', 'fleet'],
  ['cycle'],
  ['cli'],
];
const CAPABILITY_LAYER = 3;
// A new folder of src/ gets its place in LAYERS (and in docs/design.md) first.
for (const d of readdirSync(join(import.meta.dirname, 'src'), { withFileTypes: true })) {
  if (d.isDirectory() && !LAYERS.flat().includes(d.name)) {
    throw new Error(`eslint.config.js: src/${d.name} is in no layer; add it to LAYERS (docs/design.md "Layers")`);
  }
}

/** The folders of src/ that `dir` must not import. */
function forbiddenFor(dir) {
  const level = LAYERS.findIndex((l) => l.includes(dir));
  return LAYERS.flatMap((folders, i) =>
    i > level || (i === level && level === CAPABILITY_LAYER) ? folders.filter((f) => f !== dir) : [],
  );
}

/**
 * The layer rules of one folder: static imports and re-exports
 * (no-restricted-imports), dynamic `import()` and `import('…').T` types
 * (no-restricted-syntax; no-restricted-imports does not see them). A
 * relative specifier `../<folder>/…` (any number of `../`) names a folder of
 * src/; no folder below src/<x>/ shares a name with a folder of src/.
 */
function layerRules(dir, extraPaths = []) {
  const forbidden = forbiddenFor(dir);
  const message = `src/${dir} must not import src/{${forbidden.join(',')}}: imports go down the layers, never up or sideways between capabilities (docs/design.md "Layers"); move what both need down a layer`;
  const names = forbidden.join('|');
  // esquery regexes cannot hold a literal "/": \x2F is one.
  const esq = `/^(\\.\\.\\x2F)+(${names})\\x2F/`;
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: [...childProcessBan, ...zodBan, ...extraPaths],
        ...(forbidden.length === 0 ? {} : { patterns: [{ regex: `^(\\.\\./)+(${names})/`, message }] }),
      },
    ],
    'no-restricted-syntax':
      forbidden.length === 0
        ? 'off'
        : [
            'error',
            { selector: `ImportExpression[source.value=${esq}]`, message },
            { selector: `TSImportType[source.value=${esq}]`, message },
          ],
  };
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'bin/**',
      'test/shims/**',
      'demo-fleet/**',
      'test-output/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [...childProcessBan, ...zodBan] }],
    },
  },
  ...LAYERS.flat().map((dir) => ({ files: [`src/${dir}/**/*.ts`], rules: layerRules(dir) })),
  {
    files: ['src/sync/**/*.ts'],
    ignores: ['src/sync/fs-boundary.ts'],
    rules: layerRules('sync', syncFsBan),
  },
  // The one module that imports zod itself.
  {
    files: ['src/core/zod.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: childProcessBan }] },
  },
  // Plain JavaScript (scripts, fixtures) is outside the TypeScript project.
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['scripts/**/*.mjs', 'test/fixtures/**/*.mjs', 'bench/floor/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
