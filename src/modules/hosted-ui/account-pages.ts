// /ui/account: profile, email change, password change, sign-out; further sections (two-step
// verification, recovery codes, passkeys, devices) plug in through ACCOUNT_SECTIONS.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { requestMeta } from '../../plugins/authenticate.js';
import { perMinute, sharedBudget } from '../../plugins/rate-limit.js';
import { UpdateProfileBody } from '../auth/auth.schemas.js';
import { sendVerificationEmail } from '../auth/email-verification.js';
import { updateProfile } from '../auth/profile.service.js';
import { ChangePasswordBody } from '../passwords/passwords.schemas.js';
import { changePassword } from '../passwords/passwords.service.js';
import { appsSection } from './apps-section.js';
import { sessionsSection } from './device-sections.js';
import { checkForm, formField } from './form-validation.js';
import { totpSection } from './mfa-sections.js';
import { passkeysSection } from './passkey-sections.js';
import type { AccountSection, PageContext } from './page-context.js';
import { pagePolicy } from './page-policy.js';
import { signedInUser } from './page-session.js';
import { redirectWithError, redirectWithState } from './page-state.js';

/**
 * A section of the account page beyond the built-in ones: `view` is a template under
 * views/hosted-ui/sections/, given the page's data plus what `load` returns. Its forms post to
 * routes the feature registers itself (with `register`), each answering with redirectWithState
 * to `/ui/account#<id>` and `form: <id>`.
 */
/** Shown after the built-in sections, in this order. */
const ACCOUNT_SECTIONS: readonly AccountSection[] = [totpSection, passkeysSection, sessionsSection, appsSection];

const PROFILE_FIELDS = ['name', 'phone', 'job_title', 'timezone'] as const;

export async function accountPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx, render, secure } = pages;
  const fail = (reply: FastifyReply, { form, err, values }: { form: string; err: unknown; values: Record<string, string> }) =>
    redirectWithError(reply, { location: `/ui/account#${form}`, err, state: { form, values }, secure });

  app.get('/account', { schema: { hide: true } }, async (request, reply) => {
    const user = signedInUser(request, reply);
    if (!user) return reply;
    const sections = await Promise.all(
      ACCOUNT_SECTIONS.map(async (section) => ({ id: section.id, view: section.view, data: await section.load(ctx, user, request) })),
    );
    // A section may show images from elsewhere (the apps' logos): the policy lets those in.
    const imageOrigins = sections.flatMap((section) => (section.data.imageOrigins as string[] | undefined) ?? []);
    if (imageOrigins.length > 0) reply.header('content-security-policy', pagePolicy(ctx.config.hostedUi.logoUrl, undefined, imageOrigins));
    const manager = user.account_role === 'owner' || user.account_role === 'admin';
    return render(request, reply, { view: 'account', data: { title: 'Your account', account: user, sections, manager, wide: true, passkeysOffered: pages.passkeys } });
  });

  app.post('/account/profile', { schema: { hide: true } }, async (request, reply) => {
    const user = signedInUser(request, reply);
    if (!user) return reply;
    const values = Object.fromEntries(PROFILE_FIELDS.map((field) => [field, formField(request.body, field)]));
    // An emptied optional field clears it; the name stays required.
    const changes = Object.fromEntries(PROFILE_FIELDS.map((field) => [field, field === 'name' ? values[field] : values[field] || null]));
    const errors = checkForm(UpdateProfileBody, changes);
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: '/ui/account#profile', state: { form: 'profile', values, errors }, secure });
    try {
      await updateProfile(ctx, { user, changes, meta: requestMeta(request) });
      return redirectWithState(reply, { location: '/ui/account#profile', state: { form: 'profile', notice: 'Your profile has been saved.' }, secure });
    } catch (err) {
      return fail(reply, { form: 'profile', err, values });
    }
  });

  app.post('/account/email', { schema: { hide: true } }, async (request, reply) => {
    const user = signedInUser(request, reply);
    if (!user) return reply;
    const email = formField(request.body, 'email');
    const currentPassword = formField(request.body, 'current_password');
    const errors = checkForm(UpdateProfileBody, { email, current_password: currentPassword || null });
    if (!currentPassword) errors.current_password ??= 'Enter your current password to change your email address.';
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: '/ui/account#email', state: { form: 'email', values: { email }, errors }, secure });
    try {
      await sharedBudget('password-check')(request);
      const updated = await updateProfile(ctx, { user, changes: { email, current_password: currentPassword }, meta: requestMeta(request) });
      const notice = updated.email === user.email ? 'Your email address is unchanged.' : `Your email address is now ${updated.email}. We sent a link there to verify it.`;
      return redirectWithState(reply, { location: '/ui/account#email', state: { form: 'email', notice }, secure });
    } catch (err) {
      return fail(reply, { form: 'email', err, values: { email } });
    }
  });

  app.post('/account/verification', { config: perMinute(3), schema: { hide: true } }, async (request, reply) => {
    const user = signedInUser(request, reply);
    if (!user) return reply;
    try {
      await sendVerificationEmail(ctx, user);
      return redirectWithState(reply, { location: '/ui/account#email', state: { form: 'email', notice: `We sent a new verification link to ${user.email}.` }, secure });
    } catch (err) {
      return fail(reply, { form: 'email', err, values: {} });
    }
  });

  app.post('/account/password', { schema: { hide: true } }, async (request, reply) => {
    const user = signedInUser(request, reply);
    if (!user) return reply;
    const input = { current_password: formField(request.body, 'current_password'), new_password: formField(request.body, 'new_password') };
    const errors = checkForm(ChangePasswordBody, input);
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: '/ui/account#password', state: { form: 'password', errors }, secure });
    try {
      await sharedBudget('password-check')(request);
      // A password change ends every session, this browser's too: the user signs in again.
      await changePassword(ctx, { user, input, meta: requestMeta(request) });
      return redirectWithState(reply, { location: '/ui/sign-in', state: { values: { email: user.email }, notice: 'Password changed successfully. Sign in with your new password.' }, secure });
    } catch (err) {
      return fail(reply, { form: 'password', err, values: {} });
    }
  });

  for (const section of ACCOUNT_SECTIONS) await section.register?.(app, pages);
}
