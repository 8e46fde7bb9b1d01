// The pages' Content-Security-Policy: no inline script or style anywhere; images only from
// here, the brand logo's origin, and whatever origins a page adds for what it shows (the
// account page: the logos of the apps with access). Shared by the pages Fastify serves under
// /ui and the OpenID Provider's own pages drawn with the same templates (provider-pages.ts). A
// page whose form ends in a redirect to another origin (an OpenID client's redirect URI) names
// it in `formTarget`: browsers apply form-action to a form's redirects too.

export function pagePolicy(logoUrl: string | undefined, formTarget?: string, imageOrigins: readonly string[] = []): string {
  const images = [...new Set(["'self'", 'data:', ...(logoUrl ? [new URL(logoUrl).origin] : []), ...imageOrigins])];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${images.join(' ')}`,
    `form-action 'self'${formTarget ? ` ${formTarget}` : ''}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The https origin of an image URL, or undefined for anything else (never a data: or plain-http source). */
export function httpsOrigin(url: string | undefined | null): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}
