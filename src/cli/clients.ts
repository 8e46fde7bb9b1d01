// `keyhold clients add|list|rotate-secret|remove`: the OpenID Provider's clients, through the
// same service functions as /admin/oauth-clients (modules/oidc-provider/clients.service.ts),
// with the same rules and audit rows. A secret is printed once, by add and rotate-secret.
import { InvalidArgumentError, type Command } from 'commander';
import { toClientResponse } from '../modules/oidc-provider/clients.schemas.js';
import { createClient, deleteClient, listClients, rotateClientSecret } from '../modules/oidc-provider/clients.service.js';
import { AUTH_METHODS, GRANT_TYPES, type AuthMethod, type GrantType } from '../modules/oidc-provider/client-metadata.js';
import type { CliTools } from './webhooks.js';

const list = (value: string): string[] => value.split(',').map((item) => item.trim()).filter(Boolean);

export function registerClientCommands(program: Command, tools: CliTools): void {
  const { print, table, meta } = tools;
  const clients = program.command('clients').description('OpenID Provider clients (apps that sign people in through Keyhold)');

  clients
    .command('add')
    .description('register a client; prints its secret (confidential clients), shown only this once')
    .argument('<name>', 'the name users see on the consent page')
    .requiredOption('--grant-types <list>', `comma-separated: ${GRANT_TYPES.join(', ')}`, list)
    .option('--redirect-uris <list>', 'comma-separated redirect URIs', list, [])
    .option('--post-logout-redirect-uris <list>', 'comma-separated post-logout redirect URIs', list, [])
    .option('--auth-method <method>', `token endpoint authentication: ${AUTH_METHODS.join(', ')}`, 'client_secret_basic')
    .option('--scopes <list>', 'comma-separated scopes', list, ['openid'])
    .option('--resources <list>', 'comma-separated RFC 8707 resource indicators (APIs)', list, [])
    .option('--account-id <uuid>', 'a client owned by one account (tenant)')
    .option('--backchannel-logout-uri <url>', 'where logout tokens are sent')
    .option('--first-party', 'the product\'s own app: no consent page', false)
    .option('--require-mfa', 'users must have passed a second factor', false)
    .option('--dpop-bound', 'access tokens must be DPoP-bound', false)
    .action((name: string, options: Record<string, unknown>) =>
      tools.withDatabase(async (ctx) => {
        const method = String(options.authMethod);
        if (!(AUTH_METHODS as readonly string[]).includes(method)) throw new InvalidArgumentError(`--auth-method must be one of ${AUTH_METHODS.join(', ')}`);
        const { client, secret } = await createClient(ctx, {
          adminId: null,
          input: {
            name,
            grant_types: options.grantTypes as GrantType[],
            redirect_uris: options.redirectUris as string[],
            post_logout_redirect_uris: options.postLogoutRedirectUris as string[],
            token_endpoint_auth_method: method as AuthMethod,
            scopes: options.scopes as string[],
            resources: options.resources as string[],
            account_id: (options.accountId as string | undefined) ?? null,
            backchannel_logout_uri: (options.backchannelLogoutUri as string | undefined) ?? null,
            first_party: options.firstParty === true,
            require_mfa: options.requireMfa === true,
            dpop_bound: options.dpopBound === true,
          },
          meta,
        });
        const shown = { ...toClientResponse(client), ...(secret ? { client_secret: secret } : {}) };
        print(shown, () => `${table([shown], ['client_id', 'name', 'grant_types', 'token_endpoint_auth_method'])}${secret ? `\n\nSecret (shown only now): ${secret}` : ''}`);
      }),
    );

  clients
    .command('list')
    .description('list clients')
    .action(() =>
      tools.withDatabase(async (ctx) => {
        const rows = (await listClients(ctx)).map(toClientResponse);
        print(rows, () => table(rows, ['client_id', 'name', 'grant_types', 'token_endpoint_auth_method', 'account_id', 'created_at']));
      }),
    );

  clients
    .command('rotate-secret')
    .description('issue a new secret; the old one is accepted for 24 hours more')
    .argument('<client_id>')
    .action((clientId: string) =>
      tools.withDatabase(async (ctx) => {
        const { client, secret } = await rotateClientSecret(ctx, { adminId: null, clientId, meta });
        const shown = { ...toClientResponse(client), client_secret: secret };
        print(shown, () => `New secret for ${client.client_id} (shown only now; the old one works for 24 hours): ${secret}`);
      }),
    );

  clients
    .command('remove')
    .description('remove a client with every grant and token issued to it')
    .argument('<client_id>')
    .action((clientId: string) =>
      tools.withDatabase(async (ctx) => {
        await deleteClient(ctx, { adminId: null, clientId, meta });
        print({ removed: clientId }, () => `Removed ${clientId}`);
      }),
    );
}
