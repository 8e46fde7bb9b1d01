// The admin console's navigation (views/console/layout.eta draws it).
import type { ConsoleNav } from './console-kit.js';

export const ADMIN_NAV: ConsoleNav = {
  label: 'Admin console',
  items: [
    { href: '/ui/admin/users', label: 'Users' },
    { href: '/ui/admin/accounts', label: 'Accounts' },
    { href: '/ui/admin/audit', label: 'Audit log' },
    { href: '/ui/admin/webhooks', label: 'Webhooks' },
    { href: '/ui/admin/keys', label: 'Signing keys' },
    { href: '/ui/admin/oauth-clients', label: 'OAuth clients' },
    { href: '/ui/admin/invite-codes', label: 'Invite codes' },
    { href: '/ui/admin/settings', label: 'Settings' },
  ],
};
