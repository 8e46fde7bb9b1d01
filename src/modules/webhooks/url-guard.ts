// SSRF protection for webhook URLs. Keyhold POSTs to addresses an admin typed in, from inside
// the network it runs in; without a guard a URL could reach the cloud metadata service, a
// database on localhost or an internal admin page.
//
// - `https://` only;
// - every address the host resolves to must be public unicast: not loopback, private,
//   link-local, multicast, unspecified, carrier-grade NAT, reserved or documentation ranges,
//   unique-local, 6to4/Teredo/NAT64 and IPv4-compatible (::/96) forms (which embed an IPv4
//   address), for IPv4 and IPv6;
//   IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address it carries (ipaddr.js'
//   process() and range(): a maintained classification, not a hand-kept list);
// - checked when the endpoint is created or its URL changed, and again at every delivery by the
//   socket's own `lookup` (safeLookup): the address checked is the address connected to, so a
//   name that resolves to a public address at creation and to 127.0.0.1 later (DNS rebinding)
//   is refused at the connection.
//
// WEBHOOK_ALLOW_INSECURE_URLS=true lifts all of this (development and tests).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Resolves a host name to every address (the system resolver by default; tests inject one). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'EWEBHOOKBLOCKED';
}

/**
 * IPv6 ranges ipaddr.js calls unicast that embed an IPv4 address all the same: the deprecated
 * IPv4-compatible form ::a.b.c.d (RFC 4291 2.5.5.1), which some stacks still route to the IPv4
 * address (`::7f00:1` is 127.0.0.1). The other embeddings (IPv4-mapped, -translated, NAT64,
 * 6to4, Teredo) are ranges of their own in ipaddr.js, and refused as such.
 */
const EMBEDDING_RANGES: Array<[ipaddr.IPv6, number, string]> = [[...ipaddr.IPv6.parseCIDR('::/96'), 'IPv4-compatible']];

/** Why `address` may not be called, or null when it is a public unicast address. */
export function blockedReason(address: string): string | null {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  if (range !== 'unicast') return `${address} is a ${range} address`;
  if (parsed.kind() === 'ipv6') {
    const embedding = EMBEDDING_RANGES.find(([network, bits]) => (parsed as ipaddr.IPv6).match(network, bits));
    if (embedding) return `${address} is an ${embedding[2]} address`;
  }
  return null;
}

/** Strips the brackets of an IPv6 literal host (`[::1]` → `::1`). */
export const bareHost = (hostname: string): string => hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * The reason `url` is not an acceptable webhook target, or null. Resolves the host name, so
 * a name that points at a private address is refused too (and one that does not resolve,
 * unless `unresolvedOk`: for a URL fetched only later, through safeLookup, which checks again).
 */
export async function checkWebhookUrl(url: string, resolver: Resolver = systemResolver, options: { unresolvedOk?: boolean } = {}): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'URL is not valid';
  }
  if (parsed.protocol !== 'https:') return 'URL must use https://';
  if (parsed.username || parsed.password) return 'URL must not carry credentials';
  const host = bareHost(parsed.hostname);
  if (isIP(host)) {
    const reason = blockedReason(host);
    return reason && `URL must not point at a loopback, private, link-local or otherwise non-public address (${reason})`;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolver(host);
  } catch {
    return options.unresolvedOk ? null : `URL host ${host} does not resolve`;
  }
  if (addresses.length === 0) return options.unresolvedOk ? null : `URL host ${host} does not resolve`;
  for (const { address } of addresses) {
    const reason = blockedReason(address);
    if (reason) return `URL must not point at a loopback, private, link-local or otherwise non-public address (${host} resolves to ${reason.replace(/^\S+ /, `${address} `)})`;
  }
  return null;
}

/**
 * A socket `lookup` that resolves with `resolver` and refuses a non-public address: the only
 * addresses the connection can use are the ones checked here (no rebinding window). Works for
 * both of Node's calling styles (`all: true` with happy eyeballs, or one address).
 */
export function safeLookup(resolver: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname).then(
      (found) => {
        const family = options.family === 4 || options.family === 6 ? options.family : 0;
        const addresses = family ? found.filter((a) => a.family === family) : found;
        const blocked = addresses.map((a) => blockedReason(a.address)).find((reason) => reason !== null);
        if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), '', 4);
        if (blocked) return callback(new BlockedAddressError(`refused: ${hostname} resolves to ${blocked}`), '', 4);
        if (options.all) return (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 4),
    );
  };
}
