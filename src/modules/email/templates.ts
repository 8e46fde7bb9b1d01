// One plain-text and one HTML body per kind of message. Links point at FRONTEND_URL.
//
// Text someone else typed (an account name comes from its owner's name) can be made to read
// like a message from us: it appears only on a labelled line, in quotes, on one line, and
// never in the Subject. The 422 rule on control characters keeps new names clean; rendering
// cleans again for rows stored before it and for names from elsewhere (OAuth providers).
import { singleLine } from '../../lib/plain-text.js';

export type EmailKind = 'verify_email' | 'reset_password' | 'account_invite' | 'password_setup';

export interface EmailMessage {
  kind: EmailKind;
  to: string;
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (value: string): string =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Someone else's text, quoted; quotes inside it are straightened so it cannot close ours. */
const quoted = (value: string): string => `“${singleLine(value).replace(/[“”]/g, '"')}”`;

function render(kind: EmailKind, to: string, message: { subject: string; lines: string[]; link: { url: string; label: string } }): EmailMessage {
  const { subject, lines, link } = message;
  const text = [...lines, '', link.url, ''].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    ...lines.map((line) => `<p>${escapeHtml(line)}</p>`),
    `<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>`,
    `<p style="color:#666;font-size:12px">${escapeHtml(link.url)}</p>`,
    '</body></html>',
  ].join('\n');
  // A Subject is one header line: nothing in it may start another (nodemailer folds too).
  return { kind, to, subject: singleLine(subject), text, html };
}

export const verifyEmailMessage = (frontendUrl: string, to: string, token: string): EmailMessage =>
  render('verify_email', to, {
    subject: 'Verify your email address',
    lines: ['Please confirm your email address by opening the link below.', 'The link is valid for 24 hours.'],
    link: { url: `${frontendUrl}/verify-email?token=${encodeURIComponent(token)}`, label: 'Verify email address' },
  });

export const resetPasswordMessage = (frontendUrl: string, to: string, token: string): EmailMessage =>
  render('reset_password', to, {
    subject: 'Reset your password',
    lines: [
      'Someone asked to reset the password of your account. If it was you, open the link below.',
      'The link is valid for 1 hour and works once. If it was not you, ignore this email.',
    ],
    link: { url: `${frontendUrl}/reset-password?token=${encodeURIComponent(token)}`, label: 'Reset password' },
  });

export const accountInviteMessage = (frontendUrl: string, to: string, { accountName, code }: { accountName: string; code: string }): EmailMessage =>
  render('account_invite', to, {
    subject: 'You are invited to join an account',
    lines: [
      'You have been invited to join an account.',
      `Account name, as its owner entered it: ${quoted(accountName)}`,
      'Open the link below to create your account. If you were not expecting this invitation, ignore this email.',
    ],
    link: { url: `${frontendUrl}/register?account_invite_code=${encodeURIComponent(code)}`, label: 'Accept invitation' },
  });

/** A user provisioned by their organisation's directory (SCIM) without a password, in an account
 *  with no SSO connection: the link sets their first password (the reset page, a longer life). */
export const passwordSetupMessage = (
  frontendUrl: string,
  to: string,
  setup: { accountName: string; token: string; validDays: number },
): EmailMessage =>
  render('password_setup', to, {
    subject: 'Your account is ready: set your password',
    lines: [
      'Your organisation has created an account for you.',
      `Account name, as its owner entered it: ${quoted(setup.accountName)}`,
      `Open the link below to choose your password. The link is valid for ${setup.validDays} days and works once.`,
    ],
    link: { url: `${frontendUrl}/reset-password?token=${encodeURIComponent(setup.token)}`, label: 'Set password' },
  });
