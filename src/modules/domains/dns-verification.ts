// DNS TXT proof of a domain: `_keyhold-verification.<domain>` must hold
// `keyhold-verification=<token>`. The resolver is node:dns's, pointed at DNS_SERVERS when set
// (tests run a DNS server on loopback), else the system's.
import { Resolver } from 'node:dns/promises';
import { timingSafeEqual } from 'node:crypto';

export const TXT_PREFIX = '_keyhold-verification.';
export const TXT_VALUE_PREFIX = 'keyhold-verification=';

export type TxtLookup = (name: string) => Promise<string[]>;

/** A TXT look-up through `servers` (ip or ip:port), or the system's resolvers when empty. */
export function createTxtLookup(servers: readonly string[]): TxtLookup {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  return async (name) => {
    try {
      // A record may be split in strings of 255 bytes: they are one value joined.
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    } catch {
      return []; // NXDOMAIN, no data, timeout: the proof is simply not there
    }
  };
}

export function expectedTxtValue(token: string): string {
  return `${TXT_VALUE_PREFIX}${token}`;
}

export async function hasVerificationRecord(lookup: TxtLookup, domain: string, token: string): Promise<boolean> {
  const expected = Buffer.from(expectedTxtValue(token));
  const values = await lookup(`${TXT_PREFIX}${domain}`);
  return values.some((value) => {
    const got = Buffer.from(value.trim());
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
