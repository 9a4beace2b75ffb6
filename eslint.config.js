import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/ (docs/architecture.md draws them). Lower layers are the machinery every
 * feature builds on; they never import a feature. Features may import lower layers and, through
 * a service or a port, each other; only the composition root (src/composition, app.ts,
 * worker.ts, server.ts, cli.ts) imports everything.
 */
const LOWER_LAYERS = [
  'processing',
  'storage',
  'jobs',
  'events',
  'db',
  'config',
  'errors',
  'net',
  'http',
  'logging',
  'rate-limit',
  'metrics',
  'telemetry',
];
const FEATURES = [
  'auth',
  'audit',
  'users',
  'api-keys',
  'files',
  'records',
  'webhooks',
  'notifications',
  'realtime',
  'health',
  'admin',
  'quotas',
  'uploads',
  'schemas',
];
const COMPOSITION = ['composition/**', 'app.ts', 'worker.ts', 'server.ts', 'cli.ts', 'main.ts'];

/** `../<folder>/…` imports from inside src/<layer>/. */
const forbidden = (folders) => folders.map((folder) => `../${folder}/*`);

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/', 'drizzle/', 'console/dist/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['bin/**', 'bench/**', 'scripts/**', 'src/cli.ts', 'src/main.ts', 'src/cli/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // No import cycles in src/ (import-x skips type-only imports: see docs/architecture.md).
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // The production build bundles typebox into one module (src/vendor/typebox.ts says why);
    // a direct import would load the package's ~680 files again next to the bundle.
    files: ['src/**/*.ts'],
    ignores: ['src/vendor/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportDeclaration[source.value=/^typebox(\\/|$)/][importKind!='type']",
          message: 'Import TypeBox from src/vendor/typebox.ts, which the build bundles into one module.',
        },
      ],
    },
  },
  ...LOWER_LAYERS.map((layer) => ({
    files: [`src/${layer}/**/*.ts`],
    // db/schema.ts gathers every feature's tables for Drizzle: the one place allowed to list them.
    ignores: ['src/db/schema.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...forbidden(FEATURES), ...COMPOSITION.map((entry) => `../${entry}`)],
              message: `src/${layer} is a lower layer: it never imports a feature or the composition root (see docs/architecture.md). Take a port or a plain value instead.`,
            },
          ],
        },
      ],
    },
  })),
  ...FEATURES.map((feature) => ({
    // Features never reach into the composition root; it reaches into them. And each feature owns
    // its tables: another feature reads them through its service or a port, never through the
    // table definitions (a foreign key in a *.schema.ts file may name another feature's table).
    files: [`src/${feature}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: COMPOSITION.map((entry) => `../${entry}`),
              message: 'Features are wired by the composition root, never the other way round.',
            },
            {
              group: FEATURES.filter((other) => other !== feature).map((other) => `../${other}/*.schema.ts`),
              allowTypeImports: true,
              message: `Another feature's tables are its own: go through its service or a port (docs/architecture.md).`,
            },
          ],
        },
      ],
    },
  })),
  {
    files: FEATURES.map((feature) => `src/${feature}/**/*.schema.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: COMPOSITION.map((entry) => `../${entry}`),
              message: 'Features are wired by the composition root, never the other way round.',
            },
          ],
        },
      ],
    },
  },
);
