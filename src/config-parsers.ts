// How one environment variable's text becomes a value: the parsers the configuration table
// (config-table.ts) names. Each refuses a bad value with one ConfigError naming the variable,
// and a secret's value is never echoed.

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

/** Turns a variable's trimmed, non-empty text into its value; `describe` is the docs' "parser" column. */
export interface Parser<T> {
  parse(value: string, variable: string): T;
  describe: string;
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

export const string = (): Parser<string> => ({ describe: 'text', parse: (value) => value });

export const int = (min: number, max: number): Parser<number> => ({
  describe: `whole number ${min}–${max}`,
  parse: (value, variable) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new ConfigError(variable, `must be a whole number from ${min} to ${max} (got "${value}")`);
    }
    return Number(value);
  },
});

export const bool = (): Parser<boolean> => ({
  describe: 'true/false',
  parse: (raw, variable) => {
    const value = raw.toLowerCase();
    if (TRUE.includes(value)) return true;
    if (FALSE.includes(value)) return false;
    throw new ConfigError(variable, `must be true or false (got "${value}")`);
  },
});

/** Any case is accepted; the value is the allowed spelling. */
export const oneOf = <T extends string>(allowed: readonly T[], options: { lowerCase?: boolean } = {}): Parser<T> => ({
  describe: `one of ${allowed.join(', ')}`,
  parse: (raw, variable) => {
    const found = allowed.find((name) => name.toLowerCase() === raw.toLowerCase());
    if (!found) {
      throw new ConfigError(variable, `must be one of ${allowed.join(', ')} (got "${options.lowerCase ? raw.toLowerCase() : raw}")`);
    }
    return found;
  },
});

export const url = (protocols: string[]): Parser<string> => ({
  describe: `${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL`,
  parse: (value, variable) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(variable, 'must be a URL');
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(variable, `must be a ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL`);
    }
    return value;
  },
});

/** A base URL: http(s), kept without its trailing slashes. */
export const baseUrl = (): Parser<string> => {
  const http = url(['http:', 'https:']);
  return { describe: 'http:// or https:// URL', parse: (value, variable) => http.parse(value, variable).replace(/\/+$/, '') };
};

/** Its length is counted in UTF-8 bytes; `check` adds a rule of its own. Never echoed. */
export const secret = (minBytes: number, check?: { test: RegExp; message: string }): Parser<string> => ({
  describe: `secret, ≥ ${minBytes} bytes`,
  parse: (value, variable) => {
    if (Buffer.byteLength(value, 'utf8') < minBytes) {
      throw new ConfigError(variable, `must be at least ${minBytes} bytes (use a long random value, e.g. openssl rand -base64 48)`);
    }
    if (check && !check.test.test(value)) throw new ConfigError(variable, check.message);
    return value;
  },
});

/** A key given as base64 of exactly `bytes` bytes; the value is never echoed. */
export const base64Key = (bytes: number): Parser<Buffer> => ({
  describe: `base64 of ${bytes} bytes`,
  parse: (value, variable) => {
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    if (key.length !== bytes) {
      throw new ConfigError(variable, `must be ${bytes} random bytes in base64 (e.g. openssl rand -base64 ${bytes})`);
    }
    return key;
  },
});

/** `/api/v1`-like; `/` means no prefix. */
export const pathPrefix = (): Parser<string> => ({
  describe: 'path',
  parse: (value, variable) => {
    if (value === '/') return '';
    if (!/^\/[\w\-/.]*[^/]$/.test(value)) throw new ConfigError(variable, `must look like /api/v1 (got "${value}")`);
    return value;
  },
});

export const hexColour = (): Parser<string> => ({
  describe: 'CSS hex colour',
  parse: (value, variable) => {
    if (!/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(value)) {
      throw new ConfigError(variable, `must be a CSS hex colour such as #2563eb (got "${value}")`);
    }
    return value.toLowerCase();
  },
});

export const matching = (pattern: RegExp, message: string, describe: string): Parser<string> => ({
  describe,
  parse: (value, variable) => {
    if (!pattern.test(value)) throw new ConfigError(variable, message);
    return value;
  },
});

const splitList = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

export const list = (): Parser<string[]> => ({ describe: 'comma-separated list', parse: splitList });

function checkHttpUrl(variable: string, value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return value;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError(variable, `has an entry that is not an http(s) URL: "${value}"`);
}

/** Each entry an http(s) URL, kept as its origin. */
export const origins = (): Parser<string[]> => ({
  describe: 'comma-separated origins',
  parse: (value, variable) => splitList(value).map((entry) => new URL(checkHttpUrl(variable, entry)).origin),
});

/** Providers are sent the callback URL without its query, so an entry may not have one. */
export const redirectUris = (): Parser<string[]> => ({
  describe: 'comma-separated URLs',
  parse: (value, variable) =>
    splitList(value).map((entry) => {
      const parsed = new URL(checkHttpUrl(variable, entry));
      if (parsed.search || parsed.hash) throw new ConfigError(variable, `has an entry with a query string or fragment: "${entry}"`);
      return entry;
    }),
});

/** Fastify's trustProxy: false, true, a hop count, or a list of addresses/CIDRs. */
export const trustProxy = (): Parser<boolean | number | string[]> => ({
  describe: 'true/false, hop count or addresses/CIDRs',
  parse: (value, variable) => {
    const lower = value.toLowerCase();
    if (TRUE.includes(lower)) return true;
    if (FALSE.includes(lower)) return false;
    if (/^\d+$/.test(value)) return Number(value);
    const entries = splitList(value);
    if (entries.every((entry) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry))) return entries;
    throw new ConfigError(variable, 'must be true, false, a hop count, or a comma-separated list of addresses/CIDRs');
  },
});
