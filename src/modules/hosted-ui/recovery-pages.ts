// /ui/sign-up (invite codes, account invites), /ui/forgot-password, /ui/reset-password and
// /ui/verify-email: the pages the emails link to.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute } from '../../plugins/rate-limit.js';
import { RegisterBody } from '../auth/auth.schemas.js';
import { verifyEmail } from '../auth/email-verification.js';
import { register } from '../auth/registration.service.js';
import { checkResetToken, requestPasswordReset, resetPassword } from '../passwords/password-reset.service.js';
import { ForgotPasswordBody, ResetPasswordBody } from '../passwords/passwords.schemas.js';
import { checkForm, formField } from './form-validation.js';
import type { PageContext } from './page-context.js';
import { redirectWithError, redirectWithState } from './page-state.js';

/** The API's answers, shown as they are. */
const RESET_LINK_SENT = 'If an account with that email exists, a reset link has been sent.';
const PASSWORD_RESET = 'Password has been reset successfully';
const EMAIL_VERIFIED = 'Email verified successfully';

export async function recoveryPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx, render, secure } = pages;
  const fail = (reply: FastifyReply, { location, err, values }: { location: string; err: unknown; values: Record<string, string> }) =>
    redirectWithError(reply, { location, err, state: { values }, secure });
  const query = (request: { query: unknown }, name: string) => formField(request.query, name);

  // The account-invite email links to {FRONTEND_URL}/register?account_invite_code=…
  app.get('/register', { schema: { hide: true } }, async (request, reply) => {
    const code = query(request, 'account_invite_code');
    return reply.redirect(`/ui/sign-up${code ? `?account_invite_code=${encodeURIComponent(code)}` : ''}`);
  });

  app.get('/sign-up', { schema: { hide: true } }, async (request, reply) =>
    render(request, reply, { view: 'sign-up', data: {
      title: 'Create an account',
      // The API asks for a code only when self-serve sign-up is off too; with it on, a code is optional.
      inviteCodeField: ctx.config.requireInviteCode ? (ctx.config.selfServeEnabled ? 'optional' : 'required') : 'none',
      accountInviteCode: query(request, 'account_invite_code'),
    } }),
  );

  app.post('/sign-up', { config: perMinute(3), schema: { hide: true } }, async (request, reply) => {
    const values = {
      name: formField(request.body, 'name'),
      email: formField(request.body, 'email'),
      invite_code: formField(request.body, 'invite_code'),
      account_invite_code: formField(request.body, 'account_invite_code'),
    };
    const password = formField(request.body, 'password');
    const input = {
      name: values.name,
      email: values.email,
      password,
      invite_code: values.invite_code || null,
      account_invite_code: values.account_invite_code || null,
    };
    const back = `/ui/sign-up${values.account_invite_code ? `?account_invite_code=${encodeURIComponent(values.account_invite_code)}` : ''}`;
    const errors = checkForm(RegisterBody, input);
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: back, state: { values, errors }, secure });
    try {
      const user = await register(ctx, input, requestMeta(request));
      return redirectWithState(reply, { location: '/ui/sign-in', state: {
        values: { email: user.email },
        notice: `Your account has been created. We sent a link to ${user.email} to verify the address. You can sign in now.`,
      }, secure });
    } catch (err) {
      return fail(reply, { location: back, err, values });
    }
  });

  app.get('/forgot-password', { schema: { hide: true } }, async (request, reply) =>
    render(request, reply, { view: 'forgot-password', data: { title: 'Reset your password' } }),
  );

  app.post('/forgot-password', { config: perMinute(3), schema: { hide: true } }, async (request, reply) => {
    const email = formField(request.body, 'email');
    const errors = checkForm(ForgotPasswordBody, { email });
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: '/ui/forgot-password', state: { values: { email }, errors }, secure });
    try {
      await requestPasswordReset(ctx, email, requestMeta(request));
      return redirectWithState(reply, { location: '/ui/forgot-password', state: { notice: RESET_LINK_SENT }, secure });
    } catch (err) {
      return fail(reply, { location: '/ui/forgot-password', err, values: { email } });
    }
  });

  app.get('/reset-password', { schema: { hide: true } }, async (request, reply) => {
    const token = query(request, 'token');
    const link = token ? await checkResetToken(ctx, token) : { valid: false };
    return render(request, reply, { view: 'reset-password', data: { title: 'Choose a new password', token, valid: link.valid, email: link.email } });
  });

  app.post('/reset-password', { config: perMinute(5), schema: { hide: true } }, async (request, reply) => {
    const token = formField(request.body, 'token');
    const input = { token, new_password: formField(request.body, 'new_password') };
    const back = `/ui/reset-password?token=${encodeURIComponent(token)}`;
    const errors = checkForm(ResetPasswordBody, input);
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: back, state: { errors }, secure });
    try {
      await resetPassword(ctx, input, requestMeta(request));
      return redirectWithState(reply, { location: '/ui/sign-in', state: { notice: `${PASSWORD_RESET}. Sign in with your new password.` }, secure });
    } catch (err) {
      return fail(reply, { location: back, err, values: {} });
    }
  });

  // Opening the link shows a button: mail scanners that fetch links do not spend the token.
  app.get('/verify-email', { schema: { hide: true } }, async (request, reply) =>
    render(request, reply, { view: 'verify-email', data: { title: 'Verify your email address', token: query(request, 'token') } }),
  );

  app.post('/verify-email', { config: perMinute(10), schema: { hide: true } }, async (request, reply) => {
    const token = formField(request.body, 'token');
    try {
      await verifyEmail(ctx, token, requestMeta(request));
      return redirectWithState(reply, { location: '/ui/verify-email?done=1', state: { notice: EMAIL_VERIFIED }, secure });
    } catch (err) {
      return fail(reply, { location: `/ui/verify-email?token=${encodeURIComponent(token)}`, err, values: {} });
    }
  });
}
