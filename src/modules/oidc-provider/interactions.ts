// What the hosted pages need to know about an authorization in progress, read from the
// provider's stored Interaction (its id is the uid in /ui/authorize/{uid}).
import type { AppContext } from '../../context.js';
import { findModel } from './oidc-models.repo.js';

/**
 * The Content-Security-Policy source for the client's redirect URI (its origin, or its scheme
 * for a private-use one), so that a form of the pages may end in a redirect to it.
 */
export async function interactionRedirectTarget(ctx: Pick<AppContext, 'db' | 'clock'>, uid: string): Promise<string | undefined> {
  const row = await findModel(ctx.db, { model: 'Interaction', by: { id: uid }, now: ctx.clock.now() });
  const redirectUri = (row?.payload as { params?: { redirect_uri?: unknown } } | undefined)?.params?.redirect_uri;
  if (typeof redirectUri !== 'string' || !URL.canParse(redirectUri)) return undefined;
  const url = new URL(redirectUri);
  if (url.protocol === 'https:' || url.protocol === 'http:') return url.origin;
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined;
}
