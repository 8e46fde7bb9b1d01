// buildApp(config) is the whole service: `npm start` and every test build it the same way.
// Order: database and migrations, services, plugins, routes, then the error handler.
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { systemClock, type Clock } from './lib/clock.js';
import { isValidEmail } from './lib/email-address.js';
import { isCommonPassword, NOT_COMMON_PASSWORD_KEYWORD } from './lib/password-policy.js';
import { createPasswordHasher, type PasswordHasher } from './lib/passwords.js';
import { createTokenService } from './lib/tokens.js';
import { ensureAdmin } from './modules/admin/create-admin.js';
import { accountsRoutes } from './modules/accounts/accounts.routes.js';
import { adminRoutes } from './modules/admin/admin.routes.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { emailVerificationRoutes } from './modules/auth/email-verification.routes.js';
import { createOutboxWorker } from './modules/email/outbox.worker.js';
import { oauthRoutes } from './modules/oauth/oauth.routes.js';
import { passwordRoutes } from './modules/passwords/passwords.routes.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { resolveSigningSecret } from './modules/sessions/signing-secret.js';
import { registerErrorHandling } from './plugins/errors.js';
import { registerInputGuard } from './plugins/input-guard.js';
import { registerOpenApi } from './plugins/openapi.js';
import { registerRateLimit } from './plugins/rate-limit.js';
import { registerSecurity } from './plugins/security.js';

// ajv-formats is CommonJS with a default export property.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export interface AppDeps {
  clock?: Clock;
  /** An already-open database (tests that restart the app on one database). */
  database?: DatabaseHandle;
  /** Where logs go; default stdout. Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream;
  passwords?: PasswordHasher;
}

declare module 'fastify' {
  interface FastifyInstance {
    ctx: AppContext;
  }
}

export type App = FastifyInstance;

const BODY_LIMIT_BYTES = 64 * 1024;

export async function buildApp(config: Readonly<Config>, deps: AppDeps = {}): Promise<App> {
  const app = Fastify({
    logger: loggerOptions(config, deps.logStream),
    // A hop count is valid at run time (proxy-addr) though Fastify's types omit it.
    trustProxy: config.trustProxy as boolean | string[],
    bodyLimit: BODY_LIMIT_BYTES,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
      plugins: [formatsPlugin],
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const database =
    deps.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.databasePoolSize,
      preparedStatements: config.databasePreparedStatements,
      onPoolError: (err) => app.log.warn({ err: { message: err.message } }, 'database connection lost'),
    }));
  const ownsDatabase = deps.database === undefined;
  try {
    await migrateToLatest(database.db);
  } catch (err) {
    if (ownsDatabase) await database.close();
    throw err;
  }

  const clock = deps.clock ?? systemClock;
  const secret = await resolveSigningSecret(database.db, config.jwtSecret);
  const outbox = createOutboxWorker({ db: database.db, config, clock, log: app.log });
  const ctx: AppContext = {
    config,
    db: database.db,
    clock,
    log: app.log,
    outbox,
    passwords: deps.passwords ?? createPasswordHasher(config.argon2),
    tokens: createTokenService({
      secret,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      clock,
      lifetimesSeconds: {
        access: config.accessTokenExpireMinutes * 60,
        refresh: config.refreshTokenExpireDays * 86_400,
        password_reset: 3600,
        email_verification: 86_400,
      },
    }),
  };
  app.decorate('ctx', ctx);

  if (config.bootstrapAdmin) {
    const { created } = await ensureAdmin(ctx, config.bootstrapAdmin);
    if (created) app.log.info({ email: config.bootstrapAdmin.email }, 'bootstrap admin created');
  }

  const redis = config.redisUrl && config.rateLimitEnabled ? connectRedis(config.redisUrl, app) : undefined;
  let shuttingDown = false;
  app.addHook('onReady', async () => {
    outbox.start();
  });
  app.addHook('preClose', async () => {
    shuttingDown = true;
  });
  // Replies finished during shutdown close their connection, so keep-alive clients do not
  // hold the server open until their idle timeout.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (shuttingDown) reply.header('Connection', 'close');
    done(null, payload);
  });
  app.addHook('onClose', async () => {
    await outbox.stop();
    redis?.disconnect();
    if (ownsDatabase) await database.close();
  });

  await app.register(formbody);
  // OAuth2 password-form clients (FastAPI's OAuth2PasswordRequestForm) may post multipart
  // form data: fields only, small, never files.
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { files: 0, fileSize: 0, fields: 16, fieldSize: 4096, parts: 16, fieldNameSize: 100 },
  });
  await registerSecurity(app, { corsOrigins: config.corsOrigins });
  await registerRateLimit(app, { enabled: config.rateLimitEnabled, redis });
  await registerOpenApi(app);
  registerInputGuard(app);
  registerErrorHandling(app);

  await app.register(healthRoutes, {
    probe: {
      isShuttingDown: () => shuttingDown,
      checkDatabase: () => database.ping(),
      rateLimitStore: () => ({
        store: !config.rateLimitEnabled ? 'disabled' : redis ? 'redis' : 'memory',
        healthy: !redis || redis.status === 'ready',
      }),
    },
  });
  await app.register(
    async (api) => {
      await api.register(authRoutes, { ctx });
      await api.register(passwordRoutes, { ctx });
      await api.register(emailVerificationRoutes, { ctx });
      await api.register(oauthRoutes, { ctx });
      await api.register(accountsRoutes, { ctx });
      await api.register(adminRoutes, { ctx });
    },
    { prefix: config.apiPrefix },
  );
  return app;
}

// Emails are trimmed before they are stored, so the format check must accept what trimming
// fixes. Fastify adds ajv-formats after user plugins unless one is named `formatsPlugin`.
function formatsPlugin(ajv: Ajv): Ajv {
  addFormats(ajv);
  ajv.addFormat('email', isValidEmail);
  ajv.addKeyword({
    keyword: NOT_COMMON_PASSWORD_KEYWORD,
    type: 'string',
    schemaType: 'boolean',
    validate: (enabled: boolean, value: string) => !enabled || !isCommonPassword(value),
  });
  return ajv;
}

function connectRedis(url: string, app: FastifyInstance): Redis {
  const redis = new Redis(url, {
    // Fail rate-limit lookups fast while Redis is away instead of queueing them.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: false,
  });
  let lastState = '';
  redis.on('error', (err) => {
    if (lastState !== 'error') app.log.warn({ err: { message: err.message } }, 'redis unavailable');
    lastState = 'error';
  });
  redis.on('ready', () => {
    lastState = 'ready';
  });
  return redis;
}

function loggerOptions(config: Readonly<Config>, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    // Credentials travel in headers; they never reach a log line.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
    ...(stream ? { stream } : {}),
  };
}
