// `keyhold webhooks add|list|remove|rotate-secret|test`: the same service functions as
// /admin/webhooks (modules/webhooks/webhooks.service.ts), with the same rules (the URL guard
// included) and audit rows. The secret is printed once, by add and rotate-secret.
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import type { AppContext, RequestMeta } from '../context.js';
import { toDeliveryResponse, toWebhookResponse } from '../modules/webhooks/webhooks.schemas.js';
import {
  createWebhook,
  deleteWebhook,
  findWebhookDelivery,
  listWebhooks,
  rotateWebhookSecret,
  sendTestEvent,
  type WebhookDeps,
} from '../modules/webhooks/webhooks.service.js';

type BaseContext = Pick<AppContext, 'config' | 'db' | 'clock' | 'secrets'> & { jobs: undefined };

export interface CliTools {
  withDatabase<T>(fn: (ctx: BaseContext) => Promise<T>): Promise<T>;
  print(data: unknown, human: () => string): void;
  table(rows: Array<Record<string, unknown>>, columns: string[]): string;
  meta: RequestMeta;
}

const TEST_WAIT_MS = 15_000;

export function registerWebhookCommands(program: Command, tools: CliTools): void {
  const { print, table, meta } = tools;
  /** The CLI's context plus the secret box (the same key as the server's). */
  const withWebhooks = <T>(fn: (deps: WebhookDeps) => Promise<T>): Promise<T> =>
    tools.withDatabase((ctx) => fn(ctx));

  const webhooks = program.command('webhooks').description('webhook endpoints (signed event delivery to other services)');

  webhooks
    .command('add')
    .description('add an endpoint; prints its secret, shown only this once')
    .argument('<url>', 'https:// URL that receives the events')
    .option('--events <types>', 'comma-separated event types (default: every type)')
    .option('--description <text>', 'what the endpoint is for')
    .action((url: string, options: { events?: string; description?: string }) =>
      withWebhooks(async (deps) => {
        const events = options.events?.split(',').map((type) => type.trim()).filter(Boolean);
        const { endpoint, secret } = await createWebhook(deps, { adminId: null, input: { url, events, description: options.description ?? null }, meta });
        const shown = { ...toWebhookResponse(endpoint), secret };
        print(shown, () => `${table([shown], ['id', 'url', 'events', 'enabled'])}\n\nSecret (shown only now): ${secret}`);
      }),
    );

  webhooks
    .command('list')
    .description('list endpoints')
    .action(() =>
      withWebhooks(async (deps) => {
        const rows = (await listWebhooks(deps)).map(toWebhookResponse);
        print(rows, () => table(rows, ['id', 'url', 'events', 'enabled', 'description', 'created_at']));
      }),
    );

  webhooks
    .command('remove')
    .description('delete an endpoint and its delivery log')
    .argument('<id>', 'endpoint id')
    .action((id: string) =>
      withWebhooks(async (deps) => {
        await deleteWebhook(deps, { adminId: null, id: checkId(id), meta });
        print({ id, removed: true }, () => `Removed webhook ${id}.`);
      }),
    );

  webhooks
    .command('rotate-secret')
    .description('new secret; the old one keeps signing too for 24 hours')
    .argument('<id>', 'endpoint id')
    .action((id: string) =>
      withWebhooks(async (deps) => {
        const { endpoint, secret } = await rotateWebhookSecret(deps, { adminId: null, id: checkId(id), meta });
        print({ ...toWebhookResponse(endpoint), secret }, () => `New secret (shown only now): ${secret}\nThe previous secret also signs for the next 24 hours.`);
      }),
    );

  webhooks
    .command('test')
    .description('send a webhook.test event and wait for its delivery (a running server delivers it)')
    .argument('<id>', 'endpoint id')
    .action((id: string) => {
      // The embedded database is open in one process at a time: with the server stopped the
      // event is queued but nobody delivers it, and with it running the command cannot open it.
      if (!loadConfig().databaseUrl) {
        throw new Error(
          'webhooks test needs a running server to deliver the event, and on the embedded database the server and the command line cannot run at once: ' +
            `with the server running, call POST ${loadConfig().apiPrefix}/admin/webhooks/${id}/test (an admin's bearer token), or use DATABASE_URL`,
        );
      }
      return withWebhooks(async (deps) => {
        const queued = await sendTestEvent(deps, { adminId: null, id: checkId(id), meta });
        const deadline = Date.now() + TEST_WAIT_MS;
        let delivery = queued;
        while (delivery.status === 'pending' && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          delivery = (await findWebhookDelivery(deps, queued.id)) ?? delivery;
        }
        const shown = toDeliveryResponse(delivery);
        print(shown, () => table([shown], ['event_id', 'status', 'attempt', 'response_status', 'duration_ms', 'error']));
        if (delivery.status !== 'succeeded') {
          process.stderr.write(
            delivery.status === 'pending'
              ? 'keyhold: not delivered yet (is a Keyhold server running? it delivers queued events, with retries)\n'
              : 'keyhold: delivery failed\n',
          );
          process.exitCode = 1;
        }
      });
    });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id is the same "not found" as an unknown one (not a database error). */
function checkId(id: string): string {
  return UUID.test(id) ? id : '00000000-0000-0000-0000-000000000000';
}
