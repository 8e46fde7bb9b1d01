// The one configuration table: docs/configuration.md is what the table renders, every variable
// is read through it, and a bad value stops the start with one line naming the variable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderConfigurationPage } from '../src/config-docs.js';
import { CONFIG_TABLE } from '../src/config-table.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { programArgs } from './helpers/entry.js';

describe('configuration: one table', () => {
  it('docs/configuration.md is what the table generates (run `npm run docs:config` after changing it)', () => {
    const onDisk = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    assert.equal(onDisk, renderConfigurationPage(), 'docs/configuration.md is stale: run `npm run docs:config`');
  });

  it('documents each variable once, so no variable has two meanings (PUBLIC_URL was described three ways)', () => {
    const names = Object.values(CONFIG_TABLE).map((row) => row.env);
    assert.deepEqual(names.filter((name, index) => names.indexOf(name) !== index), []);
    const page = renderConfigurationPage();
    for (const name of names) assert.equal(page.split(`| \`${name}\` |`).length - 1, 1, name);
  });

  it('every default passes its own parser (a default is a value the variable could be set to)', () => {
    for (const row of Object.values(CONFIG_TABLE)) {
      const fallback = row.fallback as unknown;
      if (fallback === undefined || Array.isArray(fallback) || typeof fallback === 'object') continue;
      assert.deepEqual(row.parser.parse(String(fallback), row.env), fallback, row.env);
    }
  });

  it('reads defaults from the table: an empty environment gives the documented values', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8000);
    assert.equal(config.publicUrl, 'http://127.0.0.1:8000');
    assert.equal(config.frontendUrl, 'http://localhost:3000');
    assert.equal(config.jwtAlgorithm, 'ES256');
    assert.deepEqual(config.argon2, { memoryKib: 19_456, iterations: 2, parallelism: 1 });
    assert.equal(config.hostedUi.primaryColor, '#2563eb');
    // PUBLIC_URL has one meaning: the base of everything reached from outside.
    const pages = loadConfig({ PUBLIC_URL: 'https://auth.example.com/', HOSTED_UI_ENABLED: 'true', GOOGLE_CLIENT_ID: 'g' });
    assert.equal(pages.publicUrl, 'https://auth.example.com');
    assert.equal(pages.frontendUrl, 'https://auth.example.com/ui');
    assert.ok(pages.oauthRedirectUris.includes('https://auth.example.com/ui/oauth/google/callback'));
  });

  it('refuses a bad value of any typed variable with an error naming it', () => {
    const bad: Record<string, string> = { PORT: 'eighty', DATABASE_POOL_SIZE: '0', REDIS_URL: 'http://x', SECRETS_ENCRYPTION_KEY: 'c2hvcnQ=', UI_PRIMARY_COLOR: 'blue', TRUST_PROXY: 'everyone', JWT_ALGORITHM: 'none', LOG_LEVEL: 'loud', API_PREFIX: 'api', MICROSOFT_TENANT: 'a b', OIDC_OKTA_TRUST_EMAIL: 'maybe' };
    for (const [name, value] of Object.entries(bad)) {
      const env = name.startsWith('OIDC_OKTA') ? { OIDC_PROVIDERS: 'okta', OIDC_OKTA_ISSUER: 'https://o.example', OIDC_OKTA_CLIENT_ID: 'c', [name]: value } : { [name]: value };
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === name && err.message.startsWith(`Invalid configuration: ${name} `), name);
    }
  });

  it('a bad value stops the server before it listens, with one line on stderr naming the variable', () => {
    const result = spawnSync(process.execPath, programArgs('server'), {
      env: { PATH: process.env.PATH, PORT: 'eighty', DATA_DIR: '/nonexistent' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'Invalid configuration: PORT must be a whole number from 0 to 65535 (got "eighty")\n');
  });
});
