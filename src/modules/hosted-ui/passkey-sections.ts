// The account page's passkeys: the list (name, when added and last used), renaming, removing,
// and adding one. Adding runs the WebAuthn ceremony in the browser (assets/passkey.js), so its
// two routes take and answer JSON (passkey-pages.ts); the rest are forms. The same service
// functions as /auth/passkeys*, with the same limits.
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, Errors } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { WebAuthnCredentialJson } from '../mfa/mfa.schemas.js';
import { RenamePasskeyBody } from '../passkeys/passkeys.schemas.js';
import { deleteUserPasskey, registerPasskey, registrationOptions, renameUserPasskey, userPasskeys } from '../passkeys/passkeys.service.js';
import type { AccountSection } from './account-pages.js';
import { shortTime } from './device-sections.js';
import { checkForm, formField, matchesSchema } from './form-validation.js';
import { isJsonRequest, needsScript, passkeysAvailable, unreadableStep } from './passkey-pages.js';
import { signedInUser } from './page-session.js';
import type { PageSessionUser } from './page-sessions.repo.js';
import { keepState, redirectWithError, redirectWithState } from './page-state.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SECTION = '/ui/account#passkeys';

/** The script's steps need a signed-in page; a dead one is told where to go instead of redirected. */
function signedInForStep(request: FastifyRequest): PageSessionUser {
  if (!request.pageUser) throw new AppError(401, 'Your session has ended. Sign in again.');
  return request.pageUser;
}

/** The name typed for a new passkey: blank means the default; refused the API's way. */
function passkeyName(body: unknown): string | null {
  const name = formField(body, 'name').trim();
  if (!name) return null;
  const errors = checkForm(RenamePasskeyBody, { name });
  if (errors.name) throw new AppError(400, `Name: ${errors.name}`);
  return name;
}

export const passkeysSection: AccountSection = {
  id: 'passkeys',
  view: 'passkeys',
  async load(ctx, user) {
    const passkeys = (await userPasskeys(ctx, user)).map((passkey) => ({
      id: passkey.id,
      name: passkey.name,
      added: shortTime(new Date(passkey.created_at)),
      addedIso: passkey.created_at,
      lastUsed: passkey.last_used_at ? shortTime(new Date(passkey.last_used_at)) : undefined,
      lastUsedIso: passkey.last_used_at,
    }));
    return { passkeys, available: passkeysAvailable(ctx) };
  },
  async register(app, pages) {
    const { ctx, secure } = pages;
    const done = (reply: FastifyReply, notice: string) => redirectWithState(reply, SECTION, { form: 'passkeys', notice }, secure);
    const refuse = (reply: FastifyReply, err: unknown, values: Record<string, string> = {}) =>
      redirectWithError(reply, SECTION, err, { form: 'passkeys', values }, secure);

    // The name is checked here too, before the browser creates a credential it would keep.
    app.post('/account/passkeys/options', { config: perMinute(10), schema: { hide: true } }, async (request, reply) => {
      if (!isJsonRequest(request)) return needsScript(reply, SECTION, 'passkeys', secure);
      const user = signedInForStep(request);
      passkeyName(request.body);
      return { options: await registrationOptions(ctx, user) };
    });

    app.post('/account/passkeys', { config: perMinute(10), schema: { hide: true } }, async (request, reply) => {
      if (!isJsonRequest(request)) return needsScript(reply, SECTION, 'passkeys', secure);
      const user = signedInForStep(request);
      const name = passkeyName(request.body);
      const response = (request.body as { response?: unknown }).response;
      if (!matchesSchema(WebAuthnCredentialJson, response)) throw unreadableStep();
      const passkey = await registerPasskey(ctx, user, { response: response as RegistrationResponseJSON, name }, requestMeta(request));
      keepState(reply, { form: 'passkeys', notice: `Passkey "${passkey.name}" added. You can sign in with it now.` }, secure);
      return { location: SECTION };
    });

    app.post('/account/passkeys/:id/rename', { schema: { hide: true } }, async (request, reply) => {
      const user = signedInUser(request, reply);
      if (!user) return reply;
      const { id } = request.params as { id: string };
      const name = formField(request.body, 'name').trim();
      const errors = checkForm(RenamePasskeyBody, { name });
      if (errors.name) return redirectWithState(reply, SECTION, { form: 'passkeys', message: `Name: ${errors.name}` }, secure);
      try {
        if (!UUID.test(id)) throw Errors.passkeyNotFound();
        await renameUserPasskey(ctx, user, id, name, requestMeta(request));
        return done(reply, `Passkey renamed to "${name}".`);
      } catch (err) {
        return refuse(reply, err);
      }
    });

    app.post('/account/passkeys/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const user = signedInUser(request, reply);
      if (!user) return reply;
      const { id } = request.params as { id: string };
      try {
        if (!UUID.test(id)) throw Errors.passkeyNotFound();
        await deleteUserPasskey(ctx, user, id, requestMeta(request));
        return done(reply, 'The passkey has been removed. It no longer signs you in.');
      } catch (err) {
        return refuse(reply, err);
      }
    });
  },
};
