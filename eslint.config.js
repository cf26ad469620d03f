// ESLint flat config: typescript-eslint with type information (one program, tsconfig.eslint.json) over every TS and JS
// file of the repository. `npm run lint` runs it with Prettier's check and Ruff (scripts/lint.sh).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/', '.cache/', 'node_modules/', 'bench/results/', 'client/python/', 'docs/', 'deploy/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      parserOptions: {
        project: './tsconfig.eslint.json',
        tsconfigRootDir: import.meta.dirname,
      },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The rule: no source line over 140 characters (Prettier's printWidth). Comments count. Strings and template
      // literals count too: Prettier keeps a `'…' +` split where it is put, and the codebase already splits messages that way;
      // only what cannot be split without harm is exempt (a URL, a regular expression literal).
      'max-len': ['error', { code: 140, tabWidth: 2, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // A variable read by a closure before its one assignment (feeds/src/cli.ts: `sink`, read by the progress line) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Off: every `async` without an `await` here implements a Promise-returning contract (Source.start/stop, kafkajs's
      // eachBatch and restartOnFailure, test doubles of them), where `async` turns a synchronous throw into the rejection
      // the caller handles. Dropping it, as the rule asks, would change that behaviour.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The live board and the operator view run in the browser (bundled by scripts/build-web.mjs).
    files: ['web/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Tests read decoded frames, JSON bodies and metrics as `any` on purpose and assert on them: typing each one as
    // `unknown` and narrowing would add casts without catching anything the assertions do not.
    files: ['**/test/**/*.ts', '**/test/**/*.mjs'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Plain JavaScript (scripts, examples): type-aware rules still run (a floating promise is one in JS too), but without
    // annotations every imported JSON or callback parameter is `any`, so the no-unsafe family only reports noise.
    files: ['**/*.js', '**/*.mjs'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Its declarations (ensure-built.d.mts) stand in for it in the program, so it is linted without types.
    files: ['scripts/ensure-built.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
