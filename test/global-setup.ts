import type { TestProject } from 'vitest/node';
import { preparePgliteTemplate } from './helpers/pglite-template.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide('pgliteTemplate', await preparePgliteTemplate());
}
