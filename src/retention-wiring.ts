// The composition of retention: each feature declares the rules of its own tables beside its
// SQL; this registers them with the one retention run (modules/retention), for the server
// (app.ts: the hourly periodic task) and `keyhold purge` (cli.ts) alike. The order is the
// order the run takes turns in.
import type { Config } from './config.js';
import { registerAuditRetention } from './modules/audit/audit.repo.js';
import { verificationTokenRetention } from './modules/auth/email-verification.repo.js';
import { pageSessionRetention } from './modules/hosted-ui/page-sessions.repo.js';
import { finishedJobRetention } from './modules/jobs/jobs.repo.js';
import { mfaChallengeRetention } from './modules/mfa/mfa.repo.js';
import { oauthStateRetention } from './modules/oauth/oauth.repo.js';
import { expiredModelRetention } from './modules/oidc-provider/oidc-models.repo.js';
import { webauthnChallengeRetention } from './modules/passkeys/passkeys.repo.js';
import { resetTokenRetention } from './modules/passwords/passwords.repo.js';
import { createRetentionRegistry, type RetentionRegistry } from './modules/retention/retention-rules.js';
import { sessionRetention } from './modules/sessions/sessions-retention.js';
import { ssoRetention } from './modules/sso/sso.repo.js';
import { finishedDeliveryRetention } from './modules/webhooks/webhooks.repo.js';

export function retentionRules(config: Pick<Config, 'auditRetentionDays' | 'hostedUi'>): RetentionRegistry {
  const registry = createRetentionRegistry();
  registry.add(...sessionRetention);
  registry.add(resetTokenRetention, verificationTokenRetention, oauthStateRetention, mfaChallengeRetention, webauthnChallengeRetention);
  registry.add(...ssoRetention);
  registerAuditRetention(registry, config.auditRetentionDays);
  registry.add(finishedJobRetention, expiredModelRetention, finishedDeliveryRetention);
  // The hosted pages' sign-ins: only where the pages run (they purged on their own schedule before).
  if (config.hostedUi.enabled) registry.add(pageSessionRetention);
  return registry;
}
