// /ui/admin/invite-codes (create codes, the latest ones with who used them) and
// /ui/admin/settings (the platform settings registry): the admin API's service functions.
import type { FastifyInstance } from 'fastify';
import type { PageContext } from '../hosted-ui/page-context.js';
import { formField } from '../hosted-ui/form-validation.js';
import { createInviteCodes, listInviteCodes } from '../invites/invite-codes.service.js';
import { changeSetting, getAllSettings, SETTINGS, type SettingKey } from '../settings/settings.service.js';
import { ADMIN_NAV } from './admin-nav.js';
import { consoleMeta, done, pageAdmin, refused, renderConsole } from './console-kit.js';
import { when } from './console-format.js';

const CODES_SHOWN = 100;

/** A whole number typed in a form; '' is "not given"; anything else is handed on for the service to refuse. */
const formNumber = (text: string): number | undefined => (text === '' ? undefined : /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN);

export async function invitesAndSettingsPages(app: FastifyInstance, pages: PageContext): Promise<void> {
  const { ctx } = pages;
  const invites = { nav: ADMIN_NAV, current: '/ui/admin/invite-codes' };
  const settings = { nav: ADMIN_NAV, current: '/ui/admin/settings' };

  app.get('/admin/invite-codes', { schema: { hide: true } }, async (request, reply) => {
    const codes = await listInviteCodes(ctx, { limit: CODES_SHOWN });
    const now = ctx.clock.now();
    const table = {
      id: 'codes',
      caption: `The latest ${CODES_SHOWN} invite codes`,
      columns: ['Code', 'Plan', 'Status', 'Created', 'Expires'],
      rows: codes.map((c) => [
        { text: c.code, code: true },
        c.assigned_plan ? `${c.assigned_plan}${c.trial_duration_days ? ` (${c.trial_duration_days}-day trial)` : ''}` : '—',
        c.used_at ? { text: 'Used', badge: 'off', hint: c.used_by_email ?? undefined } : c.expires_at && c.expires_at <= now ? { text: 'Expired', badge: 'off' } : { text: 'Unused', badge: 'ok' },
        when(c.created_at),
        when(c.expires_at),
      ]),
      empty: 'No invite codes yet.',
    };
    return renderConsole(pages, { request, reply }, { ...invites, name: 'invite-codes', data: { title: 'Invite codes', table, required: ctx.config.requireInviteCode } });
  });

  app.post('/admin/invite-codes', { schema: { hide: true } }, async (request, reply) => {
    const values = {
      count: formField(request.body, 'count'),
      assigned_plan: formField(request.body, 'assigned_plan'),
      trial_duration_days: formField(request.body, 'trial_duration_days'),
      expires_on: formField(request.body, 'expires_on'),
    };
    try {
      const codes = await createInviteCodes(ctx, {
        actorId: pageAdmin(request).id,
        input: {
          count: formNumber(values.count) ?? 1,
          assigned_plan: values.assigned_plan || null,
          trial_duration_days: formNumber(values.trial_duration_days) ?? null,
          expires_at: values.expires_on ? `${values.expires_on}T23:59:59Z` : null,
        },
        meta: consoleMeta(request),
      });
      return done(pages, reply, { location: '/ui/admin/invite-codes', notice: codes.length === 1 ? `Created invite code ${codes[0]!.code}.` : `Created ${codes.length} invite codes: ${codes.map((c) => c.code).join(', ')}.` });
    } catch (err) {
      return refused(pages, reply, { location: '/ui/admin/invite-codes', err, state: { values } });
    }
  });

  app.get('/admin/settings', { schema: { hide: true } }, async (request, reply) => {
    const current = await getAllSettings(ctx.db);
    const list = (Object.keys(SETTINGS) as SettingKey[]).map((key) => ({ key, value: current[key], description: SETTINGS[key].description }));
    return renderConsole(pages, { request, reply }, { ...settings, name: 'settings', data: { title: 'Settings', settings: list } });
  });

  app.post('/admin/settings', { schema: { hide: true } }, async (request, reply) => {
    const current = await getAllSettings(ctx.db);
    try {
      let changed = 0;
      // Every setting is a boolean today: a checkbox, sent only when ticked.
      for (const key of Object.keys(SETTINGS) as SettingKey[]) {
        const value = formField(request.body, key) === 'on';
        if (value === current[key]) continue;
        await changeSetting(ctx, { actorId: pageAdmin(request).id, key, value, meta: consoleMeta(request) });
        changed++;
      }
      return done(pages, reply, { location: '/ui/admin/settings', notice: changed === 0 ? 'Nothing changed.' : 'Settings saved.' });
    } catch (err) {
      return refused(pages, reply, { location: '/ui/admin/settings', err });
    }
  });
}
