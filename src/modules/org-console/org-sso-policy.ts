// The SSO policy form of /ui/account/organization/sso: enforcement, auto-join and the role of
// people who join that way, through the same service as PUT /accounts/me/sso-settings.
// Turning enforcement on signs people out (everyone on a verified domain who signed in without
// SSO), so it asks for confirmation first; the other changes apply at once.
import type { FastifyInstance } from 'fastify';
import { getPolicy, setPolicy } from '../sso/connections.service.js';
import { formField } from '../hosted-ui/form-validation.js';
import { consoleMeta, type OrgPages } from './org-common.js';
import { SSO } from './org-sso.js';

export async function ssoPolicyPages(app: FastifyInstance, org: OrgPages): Promise<void> {
  const { ctx } = org;

  app.post('/account/organization/sso/policy', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const policy = {
      // Checkboxes: present when ticked.
      enforced: formField(request.body, 'enforced') === 'on',
      auto_join: formField(request.body, 'auto_join') === 'on',
      default_role: formField(request.body, 'default_role') === 'admin' ? ('admin' as const) : ('member' as const),
    };
    const previous = await getPolicy(ctx, actor.scope);
    if (policy.enforced && !previous.enforced && formField(request.body, 'confirmed') !== 'yes') {
      return org.confirm(request, reply, {
        current: SSO,
        title: 'Require single sign-on?',
        message: 'Everyone with an address on one of your verified domains must then sign in through your identity provider: their passwords, social logins and passkeys stop working here, and those signed in another way are signed out now. Make sure your connection works first.',
        action: `${SSO}/policy`,
        button: 'Require single sign-on',
        cancel: `${SSO}#policy`,
        fields: { enforced: 'on', ...(policy.auto_join ? { auto_join: 'on' } : {}), default_role: policy.default_role, confirmed: 'yes' },
      });
    }
    try {
      await setPolicy(ctx, { scope: actor.scope, policy, meta: consoleMeta(request) });
      return org.done(reply, `${SSO}#policy`, { form: 'policy', notice: policy.enforced ? 'Saved. Single sign-on is required for your verified domains.' : 'Saved.' });
    } catch (err) {
      return org.refuse(reply, err, { location: `${SSO}#policy`, form: 'policy' });
    }
  });
}
