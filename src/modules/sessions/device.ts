// What a person recognises a session by: the browser and system its user agent names, parsed
// with bowser (MIT; ua-parser-js 2.x is AGPL). Parsed when listed, never stored: a better
// parser later improves old sessions too.
import Bowser from 'bowser';

export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'other';

export interface Device {
  browser: string | null;
  os: string | null;
  type: DeviceType;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(['desktop', 'mobile', 'tablet']);

// A user's devices are listed on every view of the account page and by GET /auth/sessions,
// and most of them send one of a few user agents: each is parsed once (bowser is about 20 us a
// string). Bounded: the oldest entry goes first, so odd strings cannot grow it.
const CACHE_SIZE = 500;
const parsed = new Map<string, Readonly<Device>>();
const UNKNOWN: Readonly<Device> = Object.freeze({ browser: null, os: null, type: 'other' });

/** The same frozen object for the same string. */
export function describeDevice(userAgent: string | null): Readonly<Device> {
  if (!userAgent) return UNKNOWN;
  let device = parsed.get(userAgent);
  if (!device) {
    device = Object.freeze(parse(userAgent));
    if (parsed.size >= CACHE_SIZE) parsed.delete(parsed.keys().next().value!);
    parsed.set(userAgent, device);
  }
  return device;
}

function parse(userAgent: string): Device {
  const result = Bowser.parse(userAgent);
  const type = result.platform.type;
  return {
    browser: result.browser.name || null,
    os: result.os.name || null,
    // bowser also knows tv and bot: neither is a device type of the contract.
    type: type && KNOWN_TYPES.has(type) ? (type as DeviceType) : 'other',
  };
}
