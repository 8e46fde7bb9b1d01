// `npm start`: load the configuration, build the app, listen, and shut down gracefully.
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  const app = await buildApp(config);
  if (!config.databaseUrl) app.log.info({ dataDir: config.dataDir }, 'using the embedded database');

  let closing = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error('shutdown grace period over; exiting');
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    timer.unref();
    // Drain: /readyz answers 503 at once, but the instance keeps listening and serving for
    // SHUTDOWN_DRAIN_SECONDS, long enough for a load balancer's health checks to take it out of
    // rotation. Only then does it stop accepting connections (a request the balancer sent in
    // the meantime would otherwise meet a closed port or a 503). Ctrl-C (SIGINT) does not wait.
    app.beginShutdown();
    if (signal === 'SIGTERM' && config.shutdownDrainSeconds > 0) {
      app.log.info({ seconds: config.shutdownDrainSeconds }, 'draining: not ready, still serving');
      await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainSeconds * 1000));
    }
    // Connections that turn idle after close() began would otherwise wait for keep-alive expiry.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 200);
    sweep.unref();
    try {
      await app.close();
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
}

main().catch((err: unknown) => {
  process.stderr.write(`Keyhold failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
