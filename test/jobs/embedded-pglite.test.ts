import { queueConformance } from './queue-conformance.ts';
import { createHarness } from './queue-harness.ts';

queueConformance('embedded on PGlite', () => createHarness('pglite', 'embedded'));
