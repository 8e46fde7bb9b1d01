// The account page's passkeys: the list (name, when added and last used), renaming, removing,
// and adding one. Adding runs the WebAuthn ceremony in the browser (assets/passkey.js), so its
// two routes are JSON steps (json-steps.ts); the rest are forms. The same service functions as
// /auth/passkeys*, with the same budgets.
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../../lib/errors.js';
import { requestMeta } from '../../plugins/authenticate.js';
import { sharedBudget } from '../../plugins/rate-limit.js';
import { WebAuthnCredentialJson } from '../mfa/mfa.schemas.js';
import { RenamePasskeyBody } from '../passkeys/passkeys.schemas.js';
import { sessionAllowsFactorChange } from '../mfa/step-up.js';
import { deleteUserPasskey, registerPasskey, registrationOptions, renameUserPasskey, userPasskeys } from '../passkeys/passkeys.service.js';
import type { AccountSection } from './page-context.js';
import { shortTime } from './device-sections.js';
import { checkForm, formField, matchesSchema } from './form-validation.js';
import { scriptOnly, signedInStep } from './json-steps.js';
import { signedInUser } from './page-session.js';
import type { PageSessionUser } from './page-sessions.repo.js';
import { keepState, redirectWithError, redirectWithState } from './page-state.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SECTION = '/ui/account#passkeys';

/** A new passkey's name: blank means the default; otherwise the API's rule, or its message. */
function newPasskeyName(body: unknown): { name: string | null; error?: string } {
  const name = formField(body, 'name').trim();
  if (!name) return { name: null };
  return { name, error: checkForm(RenamePasskeyBody, { name }).name };
}

export const passkeysSection: AccountSection = {
  id: 'passkeys',
  view: 'passkeys',
  async load(ctx, user) {
    // An MFA-enrolled user signed in here without the second factor gives a code to add or remove one.
    const needsCode = !(await sessionAllowsFactorChange(ctx, user, user.page_session_id));
    const passkeys = (await userPasskeys(ctx, user)).map((passkey) => ({
      id: passkey.id,
      name: passkey.name,
      added: shortTime(new Date(passkey.created_at)),
      addedIso: passkey.created_at,
      lastUsed: passkey.last_used_at ? shortTime(new Date(passkey.last_used_at)) : undefined,
      lastUsedIso: passkey.last_used_at,
    }));
    return { passkeys, needsCode };
  },
  async register(app, pages) {
    const { ctx, secure } = pages;
    // The budget is spent last, as the API's routes spend it after authentication.
    const step = (budget: 'passkey-register-options' | 'passkey-register') => ({
      preHandler: [scriptOnly(SECTION, secure, 'passkeys'), signedInStep(secure), sharedBudget(budget)],
      schema: { hide: true },
    });
    const user = (request: FastifyRequest) => request.pageUser as PageSessionUser;
    // A code given to add or remove a passkey draws from the budget password checks share.
    const codeCheck = sharedBudget('password-check');
    const postedCode = (request: FastifyRequest) => formField(request.body, 'code').trim() || null;
    const done = (reply: FastifyReply, notice: string) => redirectWithState(reply, { location: SECTION, state: { form: 'passkeys', notice }, secure });
    /** A refusal shown by the row of passkey `id` (its name field) or, without a field, atop the section. */
    const refuse = (reply: FastifyReply, err: unknown, id: string) => redirectWithError(reply, { location: SECTION, err, state: { form: 'passkeys', values: { passkey: id } }, secure });

    // The name is checked before the browser makes a credential it would keep.
    app.post('/account/passkeys/options', step('passkey-register-options'), async (request) => {
      const { error } = newPasskeyName(request.body);
      if (error) throw Errors.passkeyNameRefused(error);
      const code = postedCode(request);
      if (code) await codeCheck(request);
      const options = await registrationOptions(ctx, { user: user(request), request: { sessionId: user(request).page_session_id, code }, meta: requestMeta(request) });
      return { options };
    });

    app.post('/account/passkeys', step('passkey-register'), async (request, reply) => {
      const { name, error } = newPasskeyName(request.body);
      if (error) throw Errors.passkeyNameRefused(error);
      const response = (request.body as { response?: unknown }).response;
      if (!matchesSchema(WebAuthnCredentialJson, response)) throw Errors.passkeyResponseUnreadable();
      const body = { response: response as RegistrationResponseJSON, name };
      const passkey = await registerPasskey(ctx, { user: user(request), body, session: { sessionId: user(request).page_session_id }, meta: requestMeta(request) });
      keepState(reply, { form: 'passkeys', notice: `Passkey "${passkey.name}" added. You can sign in with it now.` }, secure);
      return { location: SECTION };
    });

    app.post('/account/passkeys/:id/rename', { schema: { hide: true } }, async (request, reply) => {
      const signedIn = signedInUser(request, reply);
      if (!signedIn) return reply;
      const { id } = request.params as { id: string };
      const name = formField(request.body, 'name').trim();
      const errors = checkForm(RenamePasskeyBody, { name });
      if (errors.name) return redirectWithState(reply, { location: SECTION, state: { form: 'passkeys', values: { passkey: id }, errors }, secure });
      try {
        if (!UUID.test(id)) throw Errors.passkeyNotFound();
        await renameUserPasskey(ctx, { user: signedIn, id, name, meta: requestMeta(request) });
        return done(reply, `Passkey renamed to "${name}".`);
      } catch (err) {
        return refuse(reply, err, id);
      }
    });

    app.post('/account/passkeys/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const signedIn = signedInUser(request, reply);
      if (!signedIn) return reply;
      const { id } = request.params as { id: string };
      try {
        if (!UUID.test(id)) throw Errors.passkeyNotFound();
        const code = postedCode(request);
        if (code) await codeCheck(request);
        await deleteUserPasskey(ctx, { user: signedIn, id, request: { sessionId: signedIn.page_session_id, code }, meta: requestMeta(request) });
        return done(reply, 'The passkey has been removed. It no longer signs you in.');
      } catch (err) {
        return refuse(reply, err, id);
      }
    });
  },
};
