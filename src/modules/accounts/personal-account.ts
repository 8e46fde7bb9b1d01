// Every user who does not join an existing account gets a personal account they own,
// with a subscription: the plan an invite code assigns, else the standard trial.
import { randomUUID } from 'node:crypto';
import type { InviteCodeRow } from '../../db/schema.js';
import { addDays } from '../../lib/clock.js';
import type { Executor } from '../../db/database.js';
import { insertAccountWithFreshDisplayCode, insertSubscription } from './accounts.repo.js';
import { emitEvent } from '../events/emit-event.js';

export const STANDARD_TRIAL_PLAN = 'pro';
const DISPLAY_CODE_LENGTH = 8;

export interface PersonalAccountInput {
  ownerId: string;
  ownerName: string;
  inviteCode: InviteCodeRow | null;
  trialDays: number;
  now: Date;
}

/** Inserts the account and its subscription; the owner row may follow in the same transaction (deferred FK). */
export async function createPersonalAccount(db: Executor, input: PersonalAccountInput): Promise<string> {
  const accountId = randomUUID();
  await insertAccountWithFreshDisplayCode(db, { id: accountId, name: `${input.ownerName}'s Account`, ownerId: input.ownerId, codeLength: DISPLAY_CODE_LENGTH });
  const subscription = await insertSubscription(db, { account_id: accountId, ...subscriptionTerms(input) });
  await emitEvent({ clock: { now: () => input.now } }, db, 'subscription.created', {
    id: subscription.id,
    account_id: accountId,
    plan: subscription.plan,
    status: subscription.status,
    current_period_end: subscription.current_period_end?.toISOString() ?? null,
  });
  return accountId;
}

function subscriptionTerms({ inviteCode, trialDays, now }: PersonalAccountInput) {
  if (inviteCode?.assigned_plan) {
    const trial = inviteCode.trial_duration_days;
    return {
      plan: inviteCode.assigned_plan,
      status: trial ? ('trialing' as const) : ('active' as const),
      current_period_start: trial ? now : null,
      current_period_end: trial ? addDays(now, trial) : null,
    };
  }
  return {
    plan: STANDARD_TRIAL_PLAN,
    status: 'trialing' as const,
    current_period_start: now,
    current_period_end: addDays(now, trialDays),
  };
}
