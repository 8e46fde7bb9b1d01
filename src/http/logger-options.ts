// Where and how the service logs (pino through Fastify).
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';

export interface LogOutput {
  /** Where JSON lines go instead of stdout (tests read them). */
  stream?: NodeJS.WritableStream;
  /** Whether stdout is a terminal: then lines are printed for a person to read. */
  isTTY: boolean;
}

/**
 * JSON lines on stdout (or `output.stream`), as a log collector wants them; on a terminal with
 * no stream given, pino-pretty's readable lines instead (resolved here, loaded by pino's
 * transport worker only in that case). LOG_LEVEL and the redaction apply either way: both
 * happen before a line is formatted.
 */
export function loggerOptions(config: Readonly<Config>, output: LogOutput): FastifyServerOptions['logger'] {
  const common = {
    level: config.logLevel,
    // Credentials travel in headers; they never reach a log line.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
  };
  if (output.stream) return { ...common, stream: output.stream };
  if (!output.isTTY) return common;
  return {
    ...common,
    transport: {
      target: createRequire(import.meta.url).resolve('pino-pretty'),
      options: { colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
    },
  };
}
