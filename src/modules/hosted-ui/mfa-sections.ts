// Account-page sections for two-step verification: TOTP setup (a QR code of the otpauth URL,
// drawn as SVG on the server, and the secret as text), enabling it with a code, new recovery
// codes, and turning it off. The same service functions as /auth/mfa/*, with the same budget.
import QRCode from 'qrcode';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { totpPurpose } from '../mfa/mfa-codes.js';
import { findUserMfa } from '../mfa/mfa.repo.js';
import { disableTotp, enableTotp, regenerateRecoveryCodes, setupTotp } from '../mfa/mfa.service.js';
import { otpauthUrl } from '../mfa/totp.js';
import type { AccountSection } from './page-context.js';
import { formField } from './form-validation.js';
import { signedInUser } from './page-session.js';
import type { PageSessionUser } from './page-sessions.repo.js';
import { redirectWithError, redirectWithState } from './page-state.js';

/** What the POST of the API's `MFA disabled` says on the page. */
const MFA_DISABLED = 'MFA disabled';

export const totpSection: AccountSection = {
  id: 'totp',
  view: 'totp',
  async load(ctx, user) {
    const mfa = await findUserMfa(ctx.db, user.id);
    if (!mfa) return { totp: { status: 'off' } };
    if (mfa.enabled) return { totp: { status: 'on' } };
    // Setup started: the pending secret is shown until it is enabled (a new setup replaces it).
    const secret = ctx.secrets.open(mfa.sealedSecret, totpPurpose(user.id));
    const svg = await QRCode.toString(otpauthUrl(secret, ctx.config.webauthn.rpName, user.email), { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
    return { totp: { status: 'pending', secret, qr: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` } };
  },
  async register(app, pages) {
    const { ctx, render, secure } = pages;
    const codeCheck = sharedBudget('password-check');
    // A refused code is shown by the code field; any other refusal for the whole section.
    const refuse = (reply: FastifyReply, err: unknown) => redirectWithError(reply, { location: '/ui/account#totp', err, state: { form: 'totp' }, secure });
    const showCodes = (request: FastifyRequest, reply: FastifyReply, { codes, intro }: { codes: string[]; intro: string }) =>
      render(request, reply, { view: 'recovery-codes', data: { title: 'Your recovery codes', codes, intro } });
    /** The code posted with the form, or a redirect asking for it. */
    const postedCode = (request: FastifyRequest, reply: FastifyReply): string | undefined => {
      const code = formField(request.body, 'code').trim();
      if (!code) void redirectWithState(reply, { location: '/ui/account#totp', state: { form: 'totp', errors: { code: 'Enter a code from your authenticator app.' } }, secure });
      return code || undefined;
    };

    app.post('/account/totp/setup', { config: perMinute(10), schema: { hide: true } }, async (request, reply) => {
      const user = signedInUser(request, reply);
      if (!user) return reply;
      try {
        await setupTotp(ctx, user, requestMeta(request));
        return redirectWithState(reply, { location: '/ui/account#totp', state: { form: 'totp', notice: 'Scan the QR code with your authenticator app, then enter the code it shows.' }, secure });
      } catch (err) {
        return refuse(reply, err);
      }
    });

    /** A form that proves a TOTP code: signed in, a code given, the shared budget, then `act`. */
    const codeForm = (path: string, act: (request: FastifyRequest, reply: FastifyReply, proof: { user: PageSessionUser; code: string }) => Promise<FastifyReply>) =>
      app.post(path, { schema: { hide: true } }, async (request, reply) => {
        const user = signedInUser(request, reply);
        const code = user && postedCode(request, reply);
        if (!user || !code) return reply;
        try {
          await codeCheck(request);
          return await act(request, reply, { user, code });
        } catch (err) {
          return refuse(reply, err);
        }
      });

    codeForm('/account/totp/enable', async (request, reply, { user, code }) => {
      const { recovery_codes } = await enableTotp(ctx, { user, code, session: { sessionId: user.page_session_id }, meta: requestMeta(request) });
      return showCodes(request, reply, { codes: recovery_codes, intro: 'Two-step verification is on.' });
    });

    codeForm('/account/totp/recovery-codes', async (request, reply, { user, code }) => {
      const { recovery_codes } = await regenerateRecoveryCodes(ctx, { user, code, meta: requestMeta(request) });
      return showCodes(request, reply, { codes: recovery_codes, intro: 'Your old recovery codes no longer work.' });
    });

    codeForm('/account/totp/disable', async (request, reply, { user, code }) => {
      await disableTotp(ctx, { user, code, meta: requestMeta(request) });
      return redirectWithState(reply, { location: '/ui/account#totp', state: { form: 'totp', notice: MFA_DISABLED }, secure });
    });
  },
};

