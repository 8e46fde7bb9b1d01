// /ui/account/organization: the account's members (change a role, remove someone, behind a
// confirmation) and its open invitations (invite by email with a role, revoke). The same
// service functions as /accounts/me/members and /accounts/me/invites, with their rules: an
// admin promotes members but only the owner touches admins, the owner is never changed.
import type { FastifyInstance } from 'fastify';
import { Errors, validationError } from '../../lib/errors.js';
import { ChangeMemberRoleBody, CreateInviteBody } from '../accounts/accounts.schemas.js';
import { changeMemberRole, getAccount, getMember, listMembersPage, removeMember } from '../accounts/accounts.service.js';
import { keysetPage, pageUrl, queryText } from '../console/console-kit.js';
import { createAccountInvite, listAccountInvites, revokeAccountInvite } from '../accounts/account-invites.service.js';
import { when } from '../console/console-format.js';
import { checkForm, formField } from '../hosted-ui/form-validation.js';
import { consoleMeta, ORG, UUID, type OrgPages } from './org-common.js';
import { redirectWithState } from '../hosted-ui/page-state.js';

const ROLE_LABEL = { owner: 'Owner', admin: 'Admin', member: 'Member' } as const;
/** A page of the member list (by email, keyset-paged: the same cost on page 1 and page 100). */
const MEMBERS_PER_PAGE = 50;

export async function memberPages(app: FastifyInstance, org: OrgPages): Promise<void> {
  const { ctx, secure } = org;
  const idOf = (params: unknown, name = 'id'): string => {
    const id = (params as Record<string, string>)[name] ?? '';
    // A malformed id is just another unknown one.
    if (!UUID.test(id)) throw name === 'user_id' ? Errors.userNotFound() : Errors.inviteNotFound();
    return id;
  };

  app.get('/account/organization', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const after = queryText(request.query, 'after') || undefined;
    const [account, members, invites] = await Promise.all([
      getAccount(ctx, actor.user),
      keysetPage(MEMBERS_PER_PAGE, (limit) => listMembersPage(ctx, actor.user, { after, limit }), (member) => member.email.toLowerCase()),
      listAccountInvites(ctx, actor.user),
    ]);
    const now = ctx.clock.now();
    return org.page(request, reply, { current: ORG, view: 'members', data: {
      title: 'Members',
      organization: account.name,
      next: members.next ? pageUrl(ORG, { after: members.next }) : undefined,
      first: after ? ORG : undefined,
      members: members.rows.map((member) => ({
        id: member.id,
        name: member.name,
        email: member.email,
        role: member.account_role,
        roleLabel: ROLE_LABEL[member.account_role],
        self: member.id === actor.user.id,
        // What this actor may change (the service checks again): never the owner or themself;
        // an admin only members, the owner anyone else.
        manageable: member.account_role !== 'owner' && member.id !== actor.user.id && (member.account_role === 'member' || actor.user.account_role === 'owner'),
      })),
      invites: invites.map((invite) => ({
        id: invite.id,
        email: invite.email,
        roleLabel: ROLE_LABEL[invite.role],
        expires: when(invite.expires_at),
        expiresIso: invite.expires_at.toISOString(),
        expired: invite.expires_at <= now,
      })),
    } });
  });

  app.post('/account/organization/members/:user_id/role', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const userId = idOf(request.params, 'user_id');
    const role = formField(request.body, 'account_role');
    try {
      if (Object.keys(checkForm(ChangeMemberRoleBody, { account_role: role })).length > 0) throw validationError(['body', 'account_role'], 'Choose Admin or Member.');
      const changed = await changeMemberRole(ctx, { actor: actor.user, targetId: userId, role: role as 'admin' | 'member', meta: consoleMeta(request) });
      return org.done(reply, `${ORG}#members`, { form: 'members', notice: `${changed.name || changed.email} is now ${role === 'admin' ? 'an admin' : 'a member'}.` });
    } catch (err) {
      return org.refuse(reply, err, { location: `${ORG}#members`, form: 'members' });
    }
  });

  app.get('/account/organization/members/:user_id/remove', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const userId = idOf(request.params, 'user_id');
    const member = await getMember(ctx, actor.user, userId);
    return org.confirm(request, reply, {
      current: ORG,
      title: `Remove ${member.name || member.email}?`,
      message: `${member.email} leaves the organization and is signed out everywhere. They keep their login, in an account of their own. You can invite them again later.`,
      action: `${ORG}/members/${member.id}/remove`,
      button: 'Remove from the organization',
      cancel: `${ORG}#members`,
    });
  });

  app.post('/account/organization/members/:user_id/remove', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const userId = idOf(request.params, 'user_id');
    try {
      await removeMember(ctx, { actor: actor.user, targetId: userId, meta: consoleMeta(request) });
      return org.done(reply, `${ORG}#members`, { form: 'members', notice: 'The member has been removed.' });
    } catch (err) {
      return org.refuse(reply, err, { location: `${ORG}#members`, form: 'members' });
    }
  });

  app.post('/account/organization/invites', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const values = { email: formField(request.body, 'email').trim(), role: formField(request.body, 'role') };
    const errors = checkForm(CreateInviteBody, values);
    if (errors.role) errors.role = 'Choose Admin or Member.';
    if (Object.keys(errors).length > 0) return redirectWithState(reply, { location: `${ORG}#invite`, state: { form: 'invite', values, errors }, secure });
    try {
      const invite = await createAccountInvite(ctx, {
        actor: actor.user,
        input: { email: values.email, role: values.role as 'admin' | 'member' },
        meta: consoleMeta(request),
      });
      return org.done(reply, `${ORG}#invites`, { form: 'invites', notice: `We sent an invitation to ${invite.email}. It is valid for 7 days.` });
    } catch (err) {
      return org.refuse(reply, err, { location: `${ORG}#invite`, form: 'invite', values });
    }
  });

  app.get('/account/organization/invites/:id/revoke', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    const invite = (await listAccountInvites(ctx, actor.user)).find((row) => row.id === id);
    if (!invite) throw Errors.inviteNotFound();
    return org.confirm(request, reply, {
      current: ORG,
      title: `Revoke the invitation to ${invite.email}?`,
      message: 'The link in the invitation email stops working. You can invite them again later.',
      action: `${ORG}/invites/${invite.id}/revoke`,
      button: 'Revoke the invitation',
      cancel: `${ORG}#invites`,
    });
  });

  app.post('/account/organization/invites/:id/revoke', { schema: { hide: true } }, async (request, reply) => {
    const actor = await org.actor(request, reply);
    if (!actor) return reply;
    const id = idOf(request.params);
    try {
      await revokeAccountInvite(ctx, { actor: actor.user, inviteId: id, meta: consoleMeta(request) });
      return org.done(reply, `${ORG}#invites`, { form: 'invites', notice: 'The invitation has been revoked.' });
    } catch (err) {
      return org.refuse(reply, err, { location: `${ORG}#invites`, form: 'invites' });
    }
  });
}
