// Every user who does not join an existing account gets a personal account they own,
// with a subscription: the plan an invite code assigns, else the standard trial.
import { randomUUID } from 'node:crypto';
import type { InviteCodeRow } from '../../db/schema.js';
import { addDays } from '../../lib/clock.js';
import type { Executor } from '../../db/database.js';
import { insertAccountsWithFreshDisplayCodes, insertSubscriptions } from './accounts.repo.js';
import { emitEvent } from '../events/emit-event.js';

export const STANDARD_TRIAL_PLAN = 'pro';
export const DISPLAY_CODE_LENGTH = 8;

export interface PersonalAccountInput {
  ownerId: string;
  ownerName: string;
  inviteCode: InviteCodeRow | null;
  trialDays: number;
  now: Date;
}

/** Inserts the account and its subscription; the owner row may follow in the same transaction (deferred FK). */
export async function createPersonalAccount(db: Executor, input: PersonalAccountInput): Promise<string> {
  const [accountId] = await createPersonalAccounts(db, [input], { announce: true });
  return accountId!;
}

/**
 * The batch form (an import): the same accounts, in one multi-row statement per table; ids in
 * input order. `announce`: emit subscription.created for each (an import does not: see createUsers).
 */
export async function createPersonalAccounts(db: Executor, inputs: PersonalAccountInput[], options: { announce: boolean }): Promise<string[]> {
  const accounts = inputs.map((input) => ({ id: randomUUID(), name: personalAccountName(input.ownerName), ownerId: input.ownerId, codeLength: DISPLAY_CODE_LENGTH }));
  await insertAccountsWithFreshDisplayCodes(db, accounts);
  const subscriptions = await insertSubscriptions(db, inputs.map((input, i) => ({ account_id: accounts[i]!.id, ...subscriptionTerms(input) })));
  if (options.announce) {
    for (const [i, subscription] of subscriptions.entries()) {
      await emitEvent({ clock: { now: () => inputs[i]!.now } }, db, {
        type: 'subscription.created',
        data: {
          id: subscription.id,
          account_id: subscription.account_id,
          plan: subscription.plan,
          status: subscription.status,
          current_period_end: subscription.current_period_end?.toISOString() ?? null,
        },
      });
    }
  }
  return accounts.map((account) => account.id);
}

export const personalAccountName = (ownerName: string): string => `${ownerName}'s Account`;

/** The standard trial, from `now`: an account that arrives without a plan of its own gets it. */
export const standardTrial = (now: Date, trialDays: number) => subscriptionTerms({ ownerId: '', ownerName: '', inviteCode: null, trialDays, now });

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
