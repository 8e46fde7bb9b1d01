// What can be checked of the container setup without a container runtime: compose.yaml parses
// and wires Keyhold to PostgreSQL, Redis and Mailpit with health checks; .env.example is a valid
// configuration that does not set JWT_SECRET; the Dockerfile is multi-stage, non-root, with a
// health check, runs `node dist/server.js`, and copies only files that exist. (The build stage's
// commands themselves run in `npm run docker:check`, scripts/docker-build-check.mjs.)
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_TABLE } from '../src/config-table.js';
import { loadConfig } from '../src/config.js';
import { repoPath } from './helpers/repo-root.js';

type Service = {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  env_file?: string;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
};

const compose = parse(readFileSync(repoPath('compose.yaml'), 'utf8')) as { services: Record<string, Service> };
const envExample = Object.fromEntries(
  readFileSync(repoPath('.env.example'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

describe('container setup', () => {
  it('compose.yaml: Keyhold, PostgreSQL, Redis and Mailpit, each with a health check', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['keyhold', 'mailpit', 'postgres', 'redis']);
    for (const [name, service] of Object.entries(compose.services)) assert.ok(service.healthcheck?.test.length, `${name} has a healthcheck`);
    const keyhold = compose.services.keyhold!;
    assert.ok(keyhold.build, 'built from the Dockerfile');
    assert.equal(keyhold.env_file, '.env');
    assert.equal(keyhold.depends_on?.postgres?.condition, 'service_healthy');
    assert.equal(keyhold.depends_on?.redis?.condition, 'service_healthy');
    const env = keyhold.environment ?? {};
    const postgres = compose.services.postgres!.environment ?? {};
    const database = new URL(env.DATABASE_URL ?? '');
    assert.equal(database.hostname, 'postgres');
    assert.equal(decodeURIComponent(database.username), postgres.POSTGRES_USER);
    assert.equal(decodeURIComponent(database.password), postgres.POSTGRES_PASSWORD);
    assert.equal(database.pathname, `/${postgres.POSTGRES_DB}`);
    assert.equal(new URL(env.REDIS_URL ?? '').hostname, 'redis');
    assert.equal(new URL(env.SMTP_URL ?? '').hostname, 'mailpit');
    assert.match(JSON.stringify(keyhold.healthcheck?.test), /\/healthz/);
    // Published on loopback only.
    for (const service of Object.values(compose.services)) for (const port of service.ports ?? []) assert.match(port, /^127\.0\.0\.1:/);
  });

  it('.env.example with compose\'s settings is a valid configuration, names only real variables, and leaves JWT_SECRET unset', () => {
    const known = new Set(Object.values(CONFIG_TABLE).map((row) => row.env));
    for (const name of Object.keys(envExample)) assert.ok(known.has(name), `${name} is in the configuration table`);
    assert.ok(!('JWT_SECRET' in envExample));
    for (const shared of ['SECRETS_ENCRYPTION_KEY', 'PUBLIC_URL', 'JWT_ISSUER', 'JWT_AUDIENCE']) assert.ok(shared in envExample, shared);
    const config = loadConfig({ ...envExample, ...compose.services.keyhold!.environment, SECRETS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') });
    assert.equal(config.jwtAlgorithm, 'ES256');
    assert.equal(config.host, '0.0.0.0');
  });

  it('Dockerfile: multi-stage, non-root, a health check, node dist/server.js, and copies files that exist', () => {
    const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8');
    const lines = dockerfile.split('\n').map((line) => line.trim());
    assert.ok(lines.filter((line) => line.startsWith('FROM ')).length >= 2, 'multi-stage');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^HEALTHCHECK .*\\\n\s+CMD .*\/healthz/m);
    assert.match(runtime, /^CMD \["node", "dist\/server\.js"\]$/m);
    for (const line of lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources) assert.ok(existsSync(repoPath(source)), `${source} exists`);
    }
    // What the server reads at run time from beside dist/ is in the image.
    for (const needed of ['migrations', 'views']) assert.match(runtime, new RegExp(`^COPY ${needed} `, 'm'));
    assert.ok(existsSync(repoPath('.dockerignore')));
  });
});
