// Every user who does not join an existing account gets a personal account they own,
// with a subscription: the plan an invite code assigns, else the standard trial.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, InviteCodeRow } from '../../db/schema.js';
import { addDays } from '../../lib/clock.js';
import { randomCode } from '../../lib/random.js';

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
export async function createPersonalAccount(db: Kysely<Database>, input: PersonalAccountInput): Promise<string> {
  const accountId = randomUUID();
  await insertWithUniqueDisplayCode(db, accountId, `${input.ownerName}'s Account`, input.ownerId);
  await db.insertInto('subscriptions').values({ account_id: accountId, ...subscriptionTerms(input) }).execute();
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

async function insertWithUniqueDisplayCode(db: Kysely<Database>, id: string, name: string, ownerId: string): Promise<void> {
  // 36^8 codes make a clash rare; ON CONFLICT DO NOTHING retries one without aborting the transaction.
  for (let attempt = 0; attempt < 10; attempt++) {
    const inserted = await db
      .insertInto('accounts')
      .values({ id, name, display_code: randomCode(DISPLAY_CODE_LENGTH), owner_id: ownerId })
      .onConflict((oc) => oc.column('display_code').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) return;
  }
  throw new Error('could not find a free account display code');
}
