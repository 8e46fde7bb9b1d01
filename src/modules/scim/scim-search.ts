// POST /.search: one page over Users then Groups (the root search), or one type.
import { compileFilter, type ScimResourceKind } from './scim-filter.js';
import type { ScimCaller, ScimDeps } from './scim-context.js';
import { listGroups } from './scim-groups.service.js';
import { leavesOut, type parseAttributeList } from './scim-projection.js';
import { listUsers } from './scim-users.service.js';

/** A list request's query, read and checked (scim.routes.ts's readListQuery). */
export interface ListQuery {
  filter: string | undefined;
  startIndex: number;
  page: { offset: number; limit: number };
  attributes: ReturnType<typeof parseAttributeList>;
  excluded: ReturnType<typeof parseAttributeList>;
}

export async function searchAll(
  deps: ScimDeps,
  { caller, kinds, query }: { caller: ScimCaller; kinds: ScimResourceKind[]; query: ListQuery },
): Promise<{ total: number; resources: Array<Record<string, unknown>> }> {
  let { offset, limit } = query.page;
  let total = 0;
  const resources: Array<Record<string, unknown>> = [];
  for (const kind of kinds) {
    const filter = query.filter ? compileFilter(kind, query.filter) : null;
    const page = { offset, limit };
    const result =
      kind === 'User'
        ? await listUsers(deps, { caller, filter, page })
        : await listGroups(deps, caller, { filter, page, withMembers: !leavesOut('members', query.attributes, query.excluded) });
    total += result.total;
    resources.push(...result.resources);
    // The next type's page starts where this one's results ran out.
    offset = Math.max(0, offset - result.total);
    limit = Math.max(0, limit - result.resources.length);
  }
  return { total, resources };
}
