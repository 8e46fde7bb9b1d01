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

export function describeDevice(userAgent: string | null): Device {
  if (!userAgent) return { browser: null, os: null, type: 'other' };
  const result = Bowser.parse(userAgent);
  const type = result.platform.type;
  return {
    browser: result.browser.name || null,
    os: result.os.name || null,
    // bowser also knows tv and bot: neither is a device type of the contract.
    type: type && KNOWN_TYPES.has(type) ? (type as DeviceType) : 'other',
  };
}
