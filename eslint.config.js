// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', 'test/shims/**', 'demo-fleet/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          paths: ['child_process', 'node:child_process'].map((name) => ({
            name,
            message: 'external commands go through src/core/runner.ts',
          })),
        },
      ],
    },
  },
  // docs/design.md "Root and the user's files": in src/sync every file
  // operation goes through src/sync/fs-boundary.ts (the user's tree as that
  // user; root's own private temp). A new node:fs import elsewhere in
  // src/sync is a review stop: move the operation into that module.
  {
    files: ['src/sync/**/*.ts'],
    ignores: ['src/sync/fs-boundary.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...['child_process', 'node:child_process'].map((name) => ({
              name,
              message: 'external commands go through src/core/runner.ts',
            })),
            ...['fs', 'node:fs', 'fs/promises', 'node:fs/promises'].map((name) => ({
              name,
              message:
                'file operations of src/sync go through src/sync/fs-boundary.ts (root never touches the dotfiles user\'s tree; docs/design.md "Root and the user\'s files")',
            })),
          ],
        },
      ],
    },
  },
  // Plain JavaScript (scripts, fixtures) is outside the TypeScript project.
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['scripts/**/*.mjs', 'test/fixtures/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
