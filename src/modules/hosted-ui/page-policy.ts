// The hosted pages' Content-Security-Policy, shared by the pages Fastify serves under /ui and the
// OpenID Provider's own pages drawn with the same templates (provider-pages.ts).

/**
 * No inline script or style anywhere; images only from here (and the logo's origin). A page
 * whose form ends in a redirect to another origin (an OpenID client's redirect URI) names it
 * in `formTarget`: browsers apply form-action to a form's redirects too.
 */
export function pagePolicy(logoUrl: string | undefined, formTarget?: string): string {
  const images = ["'self'", 'data:', ...(logoUrl ? [new URL(logoUrl).origin] : [])];
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
