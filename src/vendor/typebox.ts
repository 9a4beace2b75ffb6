/**
 * TypeBox, as every module of Intake imports it. typebox ships as ~680 small ES modules, and
 * loading them cost ~0.7 s of CPU in each thread at every start (the API and its job thread
 * both build schemas). `npm run build` therefore replaces this module's compiled output with one
 * bundled file (scripts/bundle-vendor.ts); the sources, the tests and tsx see the package itself.
 */
export * from 'typebox';
export { Compile } from 'typebox/compile';
