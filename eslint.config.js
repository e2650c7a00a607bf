// @ts-check
const eslint = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.cache/', '.tools/', 'bench-data/', '*.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The engine is pure TypeScript: no I/O, no Azure SDK, nothing from the rest of src/.
  // Its modules import each other; everything else imports them (src/detection/index.ts
  // gathers the names most callers need). node:crypto is allowed (hash_sha256).
  ...[
    ['src/detection/*.ts', '../*'],
    ['src/detection/*/*.ts', '../../*'],
  ].map(([files, outside]) => ({
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: [outside], message: 'src/detection imports nothing outside itself.' },
            { group: ['@azure/*'], message: 'src/detection is pure: no Azure SDK.' },
            {
              group: [
                'fs',
                'node:fs',
                'fs/*',
                'node:fs/*',
                'path',
                'node:path',
                'http',
                'node:http',
                'https',
                'node:https',
              ],
              message: 'src/detection is pure: no I/O.',
            },
            {
              group: [
                'net',
                'node:net',
                'child_process',
                'node:child_process',
                'worker_threads',
                'node:worker_threads',
              ],
              message: 'src/detection is pure: no I/O.',
            },
          ],
        },
      ],
    },
  })),
);
