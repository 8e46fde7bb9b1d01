// Platform invite codes, made by admins (HTTP) and operators (command line) through the
// same functions. A code gates registration when REQUIRE_INVITE_CODE is on and may assign
// a plan (optionally as a trial) to the account of whoever spends it.
import type { AppContext, RequestMeta } from '../../context.js';
import type { InviteCodeRow } from '../../db/schema.js';
import { validationError } from '../../lib/errors.js';
import { randomCode } from '../../lib/random.js';
import { checkPage, type PageRequest } from '../../http/paging.js';
import { recordAudit } from '../audit/audit.repo.js';
import { insertInviteCode, listInviteCodes as selectInviteCodes, type InviteCodeWithUser } from './invite-codes.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

/** Bounds shared by the HTTP schema and the checks below (the command line has no schema). */
export const INVITE_CODE_RULES = {
  maxCount: 100,
  maxTrialDays: 3650,
  planPattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
  /** 36^12 ≈ 2^62: not guessable at any rate the rate limits allow. */
  codeLength: 12,
} as const;

export interface InviteCodesInput {
  count?: number;
  assigned_plan?: string | null;
  trial_duration_days?: number | null;
  /** ISO-8601 or a Date; must be in the future. */
  expires_at?: string | Date | null;
}

interface CheckedInput {
  count: number;
  assignedPlan: string | null;
  trialDurationDays: number | null;
  expiresAt: Date | null;
}

const field = (name: string) => ['body', name];

function checkInput(input: InviteCodesInput, now: Date): CheckedInput {
  const count = input.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > INVITE_CODE_RULES.maxCount) {
    throw validationError(field('count'), `Input should be a whole number from 1 to ${INVITE_CODE_RULES.maxCount}`, 'int_range');
  }
  const assignedPlan = input.assigned_plan?.trim() || null;
  if (assignedPlan !== null && !new RegExp(INVITE_CODE_RULES.planPattern).test(assignedPlan)) {
    throw validationError(field('assigned_plan'), 'Plan names are 1 to 64 letters, digits, ".", "_" or "-"', 'string_pattern_mismatch');
  }
  const trialDurationDays = input.trial_duration_days ?? null;
  if (trialDurationDays !== null) {
    if (!Number.isInteger(trialDurationDays) || trialDurationDays < 1 || trialDurationDays > INVITE_CODE_RULES.maxTrialDays) {
      throw validationError(field('trial_duration_days'), `Input should be a whole number from 1 to ${INVITE_CODE_RULES.maxTrialDays}`, 'int_range');
    }
    // Without a plan the standard trial applies and the days would be silently ignored.
    if (assignedPlan === null) throw validationError(field('trial_duration_days'), 'A trial length needs assigned_plan');
  }
  let expiresAt: Date | null = null;
  if (input.expires_at !== undefined && input.expires_at !== null) {
    expiresAt = input.expires_at instanceof Date ? input.expires_at : new Date(input.expires_at);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt.getUTCFullYear() > 9999) {
      throw validationError(field('expires_at'), 'Input should be a valid ISO-8601 date-time', 'datetime_parsing');
    }
    if (expiresAt.getTime() <= now.getTime()) throw validationError(field('expires_at'), 'Input should be in the future', 'datetime_future');
  }
  return { count, assignedPlan, trialDurationDays, expiresAt };
}

export interface CreateInviteCodes {
  actorId: string | null;
  input: InviteCodesInput;
  meta: RequestMeta | null;
}

export async function createInviteCodes(
  ctx: Pick<AppContext, 'db' | 'clock'> & { jobs: AppContext['jobs'] | undefined },
  { actorId, input, meta }: CreateInviteCodes,
): Promise<InviteCodeRow[]> {
  const now = ctx.clock.now();
  const checked = checkInput(input, now);
  return inUnitOfWork(ctx, async (trx) => {
    const codes: InviteCodeRow[] = [];
    let clashes = 0;
    while (codes.length < checked.count) {
      const row = await insertInviteCode(trx, { ...checked, code: randomCode(INVITE_CODE_RULES.codeLength), createdById: actorId, now });
      if (row) codes.push(row);
      else if (++clashes > 10) throw new Error('could not find free invite codes');
    }
    await recordAudit(trx, meta, {
      action: 'admin.invite_codes_created',
      userId: actorId,
      resourceType: 'invite_code',
      // The codes themselves stay out of the log: they are credentials until spent.
      details: {
        count: checked.count,
        ids: codes.map((code) => code.id),
        assigned_plan: checked.assignedPlan,
        trial_duration_days: checked.trialDurationDays,
        expires_at: checked.expiresAt?.toISOString() ?? null,
      },
    });
    return codes;
  });
}

export const INVITE_CODE_PAGE = { defaultLimit: 100, maxLimit: 500 } as const;

/** Newest first, with the email of whoever used each code. */
export async function listInviteCodes(ctx: Pick<AppContext, 'db'>, page: PageRequest = {}): Promise<InviteCodeWithUser[]> {
  return selectInviteCodes(ctx.db, checkPage(page, INVITE_CODE_PAGE));
}
