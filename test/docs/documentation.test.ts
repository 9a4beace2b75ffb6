import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AppError } from '../../src/errors/app-error.ts';
import { ERROR_CODES, ERRORS } from '../../src/errors/catalog.ts';
import { createTestApp } from '../helpers/app.ts';

const readme = fs.readFileSync('README.md', 'utf8');

/** Calls each factory with placeholder arguments to learn the code and status it produces. */
function producedErrors(): AppError[] {
  // Factories that read fields of an object argument get one of the right shape.
  const argumentsOf: Partial<Record<keyof typeof ERRORS, unknown[]>> = {
    quotaExceeded: [{ limit: 'files', limitValue: 1, usage: { bytes: 0, files: 1 } }],
  };
  return Object.entries(ERRORS).map(([name, factory]) =>
    (factory as (...args: unknown[]) => AppError)(...(argumentsOf[name as keyof typeof ERRORS] ?? ['x', ['GET'], 'y'])),
  );
}

describe('the error catalog', () => {
  it('documents every code a factory can produce, with its status', () => {
    for (const error of producedErrors()) {
      expect(ERROR_CODES[error.code], `ERROR_CODES lacks ${error.code}`).toBeDefined();
      expect(ERROR_CODES[error.code]?.status).toBe(error.status);
    }
  });

  it('lists every code in the README and the OpenAPI description', async () => {
    const subject = await createTestApp();
    try {
      const document = (await subject.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      for (const code of Object.keys(ERROR_CODES)) {
        expect(readme, `README lacks error code ${code}`).toContain(`\`${code}\``);
        expect(document.info.description).toContain(`\`${code}\``);
      }
    } finally {
      await subject.close();
    }
  });
});

describe('the configuration reference (docs/configuration.md)', () => {
  it('documents every variable the configuration reads', () => {
    const sources = fs
      .readdirSync('src', { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.ts'))
      .map((file) => fs.readFileSync(`src/${file}`, 'utf8'))
      .join('\n');
    const variables = new Set([...sources.matchAll(/(?:read\.\w+|authLimit)\(\s*'([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]));
    expect(variables.size).toBeGreaterThan(5);
    const reference = fs.readFileSync('docs/configuration.md', 'utf8');
    for (const variable of variables) {
      expect(reference, `docs/configuration.md lacks ${variable}`).toMatch(new RegExp(`^\\| \`${variable}\` \\|`, 'm'));
    }
  });
});
