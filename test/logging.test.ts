// Which logger the app gets: readable lines (pino-pretty) on a terminal, JSON lines otherwise,
// and always JSON into a stream a test passes. LOG_LEVEL and the redaction of credentials
// hold in every case.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { loggerOptions } from '../src/http/logger-options.js';
import { loadConfig } from '../src/config.js';
import { startTestApp } from './helpers/app.js';

const REDACTED_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'];

type PinoOptions = {
  level?: string;
  redact?: { paths: string[]; censor: string };
  stream?: unknown;
  transport?: { target: string; options: Record<string, unknown> };
};

const optionsFor = (env: Record<string, string>, output: Parameters<typeof loggerOptions>[1]) =>
  loggerOptions(loadConfig(env), output) as PinoOptions;

async function waitForFile(path: string, text: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const content = await readFile(path, 'utf8').catch(() => '');
    if (content.includes(text)) return content;
    if (Date.now() > deadline) throw new Error(`"${text}" never reached ${path}; it holds: ${content}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('logger options', () => {
  it('not on a terminal: JSON on stdout, as before', () => {
    const options = optionsFor({ LOG_LEVEL: 'debug' }, { isTTY: false });
    assert.equal(options.level, 'debug');
    assert.deepEqual(options.redact, { paths: REDACTED_PATHS, censor: '[redacted]' });
    assert.equal(options.transport, undefined);
    assert.equal(options.stream, undefined);
  });

  it('on a terminal: pino-pretty as a transport, with the same level and redaction', () => {
    const options = optionsFor({ LOG_LEVEL: 'warn' }, { isTTY: true });
    assert.equal(options.level, 'warn');
    assert.deepEqual(options.redact, { paths: REDACTED_PATHS, censor: '[redacted]' });
    assert.match(options.transport?.target ?? '', /node_modules\/pino-pretty\//);
    assert.equal(options.transport?.options.colorize, true);
    assert.equal(options.stream, undefined);
  });

  it('a stream always gets JSON, terminal or not', () => {
    const stream = new Writable({ write: (_chunk, _encoding, done) => done() });
    for (const isTTY of [true, false]) {
      const options = optionsFor({}, { stream, isTTY });
      assert.equal(options.stream, stream);
      assert.equal(options.transport, undefined);
      assert.equal(options.level, 'info');
    }
  });

  it('the terminal lines are readable, honour LOG_LEVEL, and keep credentials out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyhold-log-'));
    const file = join(dir, 'pretty.log');
    const options = optionsFor({ LOG_LEVEL: 'warn' }, { isTTY: true });
    // The same transport, writing to a file instead of the terminal.
    options.transport!.options = { ...options.transport!.options, destination: file, colorize: false };
    // Fastify's own `req` serializer keeps no headers at all; an identity one shows that the
    // redaction still happens on the way to the pretty lines.
    const app = Fastify({ logger: { ...options, serializers: { req: (req: unknown) => req } } as never });
    try {
      app.log.info('an info line LOG_LEVEL=warn leaves out');
      app.log.warn({ req: { headers: { authorization: 'Bearer sekrit-token', cookie: 'session=sekrit-cookie' } } }, 'pretty warning');
      const content = await waitForFile(file, 'pretty warning');
      const line = content.split('\n').find((l) => l.includes('pretty warning'))!;
      assert.throws(() => JSON.parse(line), 'a readable line, not JSON');
      assert.match(line, /WARN/);
      assert.match(line, /\[redacted\]/);
      assert.ok(!content.includes('sekrit'), content);
      assert.ok(!content.includes('LOG_LEVEL=warn leaves out'), content);
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('buildApp with a log stream writes JSON even when stdout is a terminal', async () => {
    const descriptor = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true, writable: true });
    let t: Awaited<ReturnType<typeof startTestApp>> | undefined;
    try {
      t = await startTestApp('pglite');
      await fetch(`${t.baseUrl}/healthz`, { headers: { authorization: 'Bearer sekrit-token' } });
      t.app.log.info({ req: { headers: { authorization: 'Bearer sekrit-token' } } }, 'json line');
      const lines = t.logs.join('').split('\n').filter(Boolean);
      const parsed = lines.map((line) => JSON.parse(line) as { msg?: string; level?: number });
      assert.ok(parsed.some((line) => line.msg === 'json line' && line.level === 30));
      assert.ok(!t.logs.join('').includes('sekrit'));
    } finally {
      if (descriptor) Object.defineProperty(process.stdout, 'isTTY', descriptor);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
      await t?.close();
    }
  });
});
