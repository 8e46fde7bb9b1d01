// buildApp(config) is the whole service: `npm start` and every test build it the same way.
// Order: database and migrations, services, plugins, routes, then the error handler.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { formatsPlugin } from './http/ajv-formats.js';
import { lazySchemaCompilers } from './http/lazy-schema-compilers.js';
import { loggerOptions } from './http/logger-options.js';
import { connectRedis } from './http/redis-connection.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createPasswordHasher, type PasswordHasher } from './lib/passwords.js';
import { createSecretBox } from './lib/secret-box.js';
import { ensureAdmin } from './modules/admin/create-admin.js';
import { accountsRoutes } from './modules/accounts/accounts.routes.js';
import { accountLifecycleRoutes, adminAccountLifecycleRoutes } from './modules/account-lifecycle/lifecycle.routes.js';
import { adminRoutes } from './modules/admin/admin.routes.js';
import { mfaAdminRoutes } from './modules/admin/mfa-reset.routes.js';
import { accountDomainRoutes } from './modules/domains/domains.routes.js';
import { ssoConnectionRoutes } from './modules/sso/connections.routes.js';
import { ssoRoutes } from './modules/sso/sso.routes.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { emailVerificationRoutes } from './modules/auth/email-verification.routes.js';
import { mfaSignInRoutes } from './modules/auth/mfa-sign-in.routes.js';
import { passkeySignInRoutes } from './modules/auth/passkey-sign-in.routes.js';
import { registerEmailJobs } from './modules/email/email-job.js';
import { createJobQueue } from './modules/jobs/job-queue.js';
import { mfaRoutes } from './modules/mfa/mfa.routes.js';
import { oauthRoutes } from './modules/oauth/oauth.routes.js';
import { passkeyRoutes } from './modules/passkeys/passkeys.routes.js';
import { passwordRoutes } from './modules/passwords/passwords.routes.js';
import { runRetention } from './modules/retention/retention.service.js';
import { retentionRules } from './retention-wiring.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { homeRoutes } from './modules/home/home.routes.js';
import { createMetrics } from './modules/metrics/metrics.js';
import { jobQueueStats } from './modules/metrics/metrics.repo.js';
import { metricsRoutes, registerRequestMetrics } from './modules/metrics/metrics.routes.js';
import { registerWebhookJobs, type WebhookDeliveryOptions } from './modules/webhooks/webhook-jobs.js';
import { registerSsoJobs } from './modules/sso/enforcement-sweep.js';
import { webhookRoutes } from './modules/webhooks/webhooks.routes.js';
import { adminSessionsRoutes, sessionsRoutes } from './modules/sessions/sessions.routes.js';
import { openKeySet } from './modules/keys/key-set.js';
import { wellKnownRoutes } from './modules/keys/keys.routes.js';
import { resolveSecretsKey } from './modules/keys/secrets-key.js';
import { databaseIdentityFacts, type AccountIdentityFacts } from './modules/scim/identity-facts.js';
import { scimAdminRoutes } from './modules/scim/scim-admin.routes.js';
import { SCIM_PREFIX, scimRoutes } from './modules/scim/scim.routes.js';
import { myAppsRoutes, oauthClientRoutes } from './modules/oidc-provider/clients.routes.js';
import { createProviderHandle, oidcProviderPlugin } from './modules/oidc-provider/oidc.plugin.js';
import { registerSessionEndJobs } from './modules/oidc-provider/session-end.js';
import { handleClientError, handleError, registerErrorHandling } from './plugins/errors.js';
import { registerBodyParsers, registerInputGuard } from './plugins/input-guard.js';
import { registerLingeringClose } from './plugins/lingering-close.js';
import { registerOpenApi } from './plugins/openapi.js';
import { registerRateLimit } from './plugins/rate-limit.js';
import { registerSecurity, withApiHeaders } from './plugins/security.js';


export interface AppDeps {
  clock?: Clock;
  /** An already-open database (tests that restart the app on one database). */
  database?: DatabaseHandle;
  /** Where logs go; default stdout. Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream;
  passwords?: PasswordHasher;
  /** Webhook delivery timing and name resolution (tests: short delays, a fake resolver). */
  webhooks?: Partial<WebhookDeliveryOptions>;
  /** What SCIM asks of enterprise SSO (verified domains, a connection); tests may stand in. */
  identityFacts?: AccountIdentityFacts;
}

declare module 'fastify' {
  interface FastifyInstance {
    ctx: AppContext;
    /** The first step of a graceful shutdown: /readyz answers 503 from now on (close() follows). */
    beginShutdown(): void;
  }
}

export type App = FastifyInstance;

const BODY_LIMIT_BYTES = 64 * 1024;

export async function buildApp(config: Readonly<Config>, deps: AppDeps = {}): Promise<App> {
  const app = Fastify({
    logger: loggerOptions(config, { stream: deps.logStream, isTTY: process.stdout.isTTY === true }),
    // A hop count is valid at run time (proxy-addr) though Fastify's types omit it.
    trustProxy: config.trustProxy as boolean | string[],
    bodyLimit: BODY_LIMIT_BYTES,
    // What the router and Node's HTTP parser refuse themselves (a path that is not valid
    // percent-encoding, a path parameter over 100 characters, malformed request framing) is
    // answered in the contract's {"detail": …} shape too, without echoing the request.
    frameworkErrors: withApiHeaders(handleError),
    clientErrorHandler: handleClientError,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
      plugins: [formatsPlugin],
    },
    schemaController: { compilersFactory: lazySchemaCompilers() },
    // A request that reached the instance before it stopped listening is served, not refused:
    // a load balancer does not retry a POST that got a 503 (see server.ts's drain).
    return503OnClosing: false,
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
  const jobs = createJobQueue({ db: database.db, config, log: app.log });
  const metrics = await createMetrics({
    enabled: config.metricsEnabled,
    // Queue depth by job kind, read at scrape time.
    queueStats: () => jobQueueStats(database.db, jobs.kinds()),
    onQueueStatsError: (err) => app.log.warn({ err: { message: (err as Error).message } }, 'metrics: queue depth unavailable'),
  });
  // One durable queue for background work; each kind registers its handler (email first).
  registerEmailJobs(jobs, { config, log: app.log, metrics });
  const secrets = createSecretBox(await resolveSecretsKey(config, (message) => app.log.warn(message)));
  // Signing mode, keys, token lifetimes and the token service: the key set's (modules/keys).
  const keySet = await openKeySet({ db: database.db, secrets, config, clock, log: app.log });
  const ctx: AppContext = {
    config,
    secrets,
    db: database.db,
    clock,
    log: app.log,
    jobs,
    metrics,
    retention: retentionRules(config),
    passwords: deps.passwords ?? createPasswordHasher(config.argon2),
    tokens: keySet.tokens,
  };
  app.decorate('ctx', ctx);
  registerWebhookJobs(jobs, ctx, deps.webhooks);
  // The OpenID Provider (OIDC_PROVIDER_ENABLED; it signs with the key set: an asymmetric mode, which config.ts ensures).
  // Its device-flow and logout pages are the hosted pages' (which the provider turns on).
  const oidcProvider = config.oidcProvider.enabled
    ? await createProviderHandle(ctx, keySet, (await import('./modules/hosted-ui/provider-pages.js')).providerPages(ctx))
    : undefined;
  registerSessionEndJobs(jobs, ctx, oidcProvider && (() => oidcProvider.current()));
  registerSsoJobs(jobs, ctx);
  jobs.every('retention', { intervalMs: config.retentionIntervalSeconds * 1000 }, async (signal) => void (await runRetention(ctx, signal)));
  if (keySet.rotates) jobs.every('signing-keys', { intervalMs: config.signingKeysIntervalSeconds * 1000 }, () => keySet.maintain());

  if (config.bootstrapAdmin) {
    const { created } = await ensureAdmin(ctx, config.bootstrapAdmin);
    if (created) app.log.info({ email: config.bootstrapAdmin.email }, 'bootstrap admin created');
  }

  const redis = config.redisUrl && config.rateLimitEnabled ? await connectRedis(config.redisUrl, app.log) : undefined;
  let shuttingDown = false;
  app.addHook('onReady', async () => {
    jobs.start();
    keySet.start();
  });
  app.decorate('beginShutdown', () => {
    shuttingDown = true;
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
    keySet.stop();
    await jobs.stop();
    redis?.disconnect();
    if (ownsDatabase) await database.close();
  });

  // Before every route, so each one is timed (only when METRICS_ENABLED: no hook otherwise).
  registerRequestMetrics(app, metrics);
  // JSON, URL-encoded and (for the OAuth2 password form only) multipart bodies; see input-guard.ts.
  await registerBodyParsers(app);
  registerLingeringClose(app);
  await registerSecurity(app, { corsOrigins: config.corsOrigins });
  await registerRateLimit(app, { enabled: config.rateLimitEnabled, redis });
  await registerOpenApi(app, { apiPrefix: config.apiPrefix });
  registerInputGuard(app);
  registerErrorHandling(app);

  await app.register(metricsRoutes, { metrics, token: config.metricsToken });
  await app.register(wellKnownRoutes, { ctx });
  if (oidcProvider) await app.register(oidcProviderPlugin, { ctx, handle: oidcProvider });
  await app.register(homeRoutes, { apiPrefix: config.apiPrefix, hostedUiEnabled: config.hostedUi.enabled });
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
      await api.register(webhookRoutes, { ctx, resolver: deps.webhooks?.resolver });
      await api.register(sessionsRoutes, { ctx });
      await api.register(adminSessionsRoutes, { ctx });
      await api.register(accountLifecycleRoutes, { ctx });
      await api.register(adminAccountLifecycleRoutes, { ctx });
      // Each factor's sign-in routes right after its own (the OpenAPI document keeps their order).
      await api.register(mfaRoutes, { ctx });
      await api.register(mfaSignInRoutes, { ctx });
      await api.register(passkeyRoutes, { ctx });
      await api.register(passkeySignInRoutes, { ctx });
      await api.register(mfaAdminRoutes, { ctx });
      await api.register(scimAdminRoutes, { ctx });
      await api.register(accountDomainRoutes, { ctx });
      await api.register(ssoConnectionRoutes, { ctx });
      await api.register(ssoRoutes, { ctx });
      if (oidcProvider) {
        await api.register(oauthClientRoutes, { ctx });
        await api.register(myAppsRoutes, { ctx });
      }
    },
    { prefix: config.apiPrefix },
  );
  // SCIM lives at the root, as directories expect (PUBLIC_URL/scim/v2), with its own errors.
  await app.register(scimRoutes, { ctx, facts: deps.identityFacts ?? databaseIdentityFacts(database.db), prefix: SCIM_PREFIX });
  // The pages' plugins (views, cookies, CSRF, static files, QR codes) load only when they are on.
  if (config.hostedUi.enabled) {
    const { registerHostedPages } = await import('./hosted-ui-wiring.js');
    await registerHostedPages(app, { ctx, oidcProvider });
  }
  return app;
}
