// Which domains an account may claim. A public suffix (com, co.uk, github.io) or a shared mail
// provider's domain (gmail.com, outlook.com) belongs to nobody's company: claiming it would let
// one tenant's SSO capture everyone with an address there. The public-suffix list comes from
// tldts (Mozilla's list, ICANN and private sections); the mail providers from the
// `email-providers` package's common list (about 350 domains with a Majestic rank under 100,000).
import { createRequire } from 'node:module';
import { getDomain, getPublicSuffix } from 'tldts';
import { validationError } from '../../lib/errors.js';

const requireJson = createRequire(import.meta.url);
const SHARED_MAIL_DOMAINS: ReadonlySet<string> = new Set(requireJson('email-providers/common.json') as string[]);

/** A hostname of 1–253 characters, labels of letters, digits and hyphens (IDNs as punycode). */
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{2,63}$/;

/** Trimmed, lower-cased, without a trailing dot; 422 `validation_failed` when it is no hostname. */
export function normaliseDomain(input: string): string {
  const domain = input.trim().toLowerCase().replace(/\.$/, '');
  if (!HOSTNAME.test(domain)) throw validationError(['body', 'domain'], 'Not a valid domain name', 'value_error.domain');
  return domain;
}

/** Why the domain cannot be claimed, or null when it can. */
export function refusalReason(domain: string): 'public_suffix' | 'shared_mail' | null {
  const options = { allowPrivateDomains: true };
  // A public suffix itself ("co.uk", "github.io") has no registrable domain of its own.
  if (getPublicSuffix(domain, options) === domain || getDomain(domain, options) === null) return 'public_suffix';
  if (SHARED_MAIL_DOMAINS.has(domain) || SHARED_MAIL_DOMAINS.has(getDomain(domain, options)!)) return 'shared_mail';
  return null;
}
