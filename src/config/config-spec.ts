/**
 * Small, typed parsers for environment variables. Each returns the parsed value or throws a
 * `ConfigError` whose message is the single line an operator sees when the process refuses
 * to start.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    expected: string,
    received: string,
  ) {
    super(`Invalid configuration: ${variable} must be ${expected} (got ${JSON.stringify(received)})`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export class EnvReader {
  constructor(private readonly env: Env) {}

  /** Unset and empty are the same: an empty `FOO=` line in `.env` means "use the default". */
  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  integer(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new ConfigError(name, `a whole number between ${min} and ${max}`, raw);
    const value = Number(raw);
    if (value < min || value > max) throw new ConfigError(name, `a whole number between ${min} and ${max}`, raw);
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const lowered = raw.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lowered)) return true;
    if (['0', 'false', 'no', 'off'].includes(lowered)) return false;
    throw new ConfigError(name, 'true or false', raw);
  }

  oneOf<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const match = choices.find((choice) => choice === raw.toLowerCase());
    if (match === undefined) throw new ConfigError(name, `one of ${choices.join(', ')}`, raw);
    return match;
  }

  url(name: string, protocols: readonly string[]): URL | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(name, `a URL (${protocols.join(' or ')})`, redactUrl(raw));
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(name, `a URL starting with ${protocols.join(' or ')}`, redactUrl(raw));
    }
    return parsed;
  }

  list(name: string): string[] {
    const raw = this.raw(name);
    if (raw === undefined) return [];
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
}

/** Configuration errors are printed and logged, so a password inside a URL must not be. */
export function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return raw.replace(/\/\/[^@/]*@/, '//***@');
  }
}
