// SCIM filters (RFC 7644 §3.4.2.2) compiled to Kysely expressions: the filter string is parsed
// by scim2-parse-filter into a tree, and each node becomes SQL whose column references come
// from the whitelist below and whose values are bound parameters, never spliced into the text.
// Anything outside the whitelist (an attribute, an operator on a type that has no order, a
// nested value path) is 400 `invalidFilter`.
import { sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';
import { parse, type Filter } from 'scim2-parse-filter';
import { Errors } from '../../lib/errors.js';

type ValueType = 'string' | 'boolean' | 'dateTime' | 'id';

interface Scalar {
  kind: 'scalar';
  type: ValueType;
  /** SQL of the value; compared case-insensitively unless caseExact. */
  column: RawBuilder<unknown>;
  caseExact: boolean;
}

interface MultiValued {
  kind: 'multi';
  /** Builds EXISTS (… element … WHERE condition) for a condition on one element. */
  exists: (condition: (element: ElementAttributes) => RawBuilder<SqlBool>) => RawBuilder<SqlBool>;
  /** The element's attributes, by lower-case name; `value` is the one a bare path names. */
  attributes: ElementAttributes;
}

type ElementAttributes = Record<string, Scalar>;
type Attribute = Scalar | MultiValued;

export type ScimResourceKind = 'User' | 'Group';

const CORE_PREFIX: Record<ScimResourceKind, string> = {
  User: 'urn:ietf:params:scim:schemas:core:2.0:user:',
  Group: 'urn:ietf:params:scim:schemas:core:2.0:group:',
};

const scalar = (column: RawBuilder<unknown>, type: ValueType, caseExact = false): Scalar => ({ kind: 'scalar', column, type, caseExact });

/** The elements of a jsonb array held in `attributes` (anything else counts as no element). */
function jsonArrayElements(key: string): MultiValued {
  const element = (name: string, type: ValueType = 'string'): Scalar => scalar(sql`(e.el ->> ${name}::text)`, type);
  const attributes = { value: element('value'), type: element('type'), display: element('display'), primary: element('primary', 'boolean') };
  return {
    kind: 'multi',
    attributes,
    exists: (condition) => sql<SqlBool>`EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.attributes -> ${key}::text) = 'array'
      THEN s.attributes -> ${key}::text ELSE '[]'::jsonb END) AS e(el) WHERE ${condition(attributes)})`,
  };
}

const groupMembers: MultiValued = {
  kind: 'multi',
  attributes: { value: scalar(sql`m.user_id::text`, 'id', true) },
  exists: (condition) =>
    sql<SqlBool>`EXISTS (SELECT 1 FROM scim_group_members AS m WHERE m.group_id = g.id AND ${condition({ value: scalar(sql`m.user_id::text`, 'id', true) })})`,
};

/** Lower-case attribute path → what it is, per resource type (the contract's list, plus id and meta.created). */
const ATTRIBUTES: Record<ScimResourceKind, Record<string, Attribute>> = {
  User: {
    id: scalar(sql`s.user_id::text`, 'id', true),
    username: scalar(sql.ref('s.user_name'), 'string'),
    externalid: scalar(sql.ref('s.external_id'), 'string', true),
    displayname: scalar(sql.ref('s.display_name'), 'string'),
    active: scalar(sql.ref('u.is_active'), 'boolean'),
    'meta.lastmodified': scalar(sql.ref('s.updated_at'), 'dateTime'),
    'meta.created': scalar(sql.ref('s.created_at'), 'dateTime'),
    emails: jsonArrayElements('emails'),
  },
  Group: {
    id: scalar(sql`g.id::text`, 'id', true),
    displayname: scalar(sql.ref('g.display_name'), 'string'),
    externalid: scalar(sql.ref('g.external_id'), 'string', true),
    'meta.lastmodified': scalar(sql.ref('g.updated_at'), 'dateTime'),
    'meta.created': scalar(sql.ref('g.created_at'), 'dateTime'),
    members: groupMembers,
  },
};

const MAX_FILTER_LENGTH = 2000;

/** The filter as a WHERE condition over the repo's aliases (`s`/`u` for users, `g` for groups). */
export function compileFilter(kind: ScimResourceKind, text: string): Expression<SqlBool> {
  if (text.length > MAX_FILTER_LENGTH) throw Errors.scimInvalidFilter('The filter is too long');
  let tree: Filter;
  try {
    tree = parse(text);
  } catch {
    throw Errors.scimInvalidFilter('The filter is not valid SCIM filter syntax');
  }
  return compileNode(kind, tree, null);
}

function compileNode(kind: ScimResourceKind, node: Filter, element: ElementAttributes | null): RawBuilder<SqlBool> {
  switch (node.op) {
    case 'and':
    case 'or': {
      const parts = (node as { filters: Filter[] }).filters.map((f) => compileNode(kind, f, element));
      return sql<SqlBool>`(${sql.join(parts, node.op === 'and' ? sql` AND ` : sql` OR `)})`;
    }
    case 'not':
      return sql<SqlBool>`NOT coalesce((${compileNode(kind, (node as { filter: Filter }).filter, element)}), false)`;
    case '[]': {
      if (element) throw Errors.scimInvalidFilter('Nested value paths are not supported');
      const { attrPath, valFilter } = node as { attrPath: string; valFilter: Filter };
      const attribute = resolve(kind, attrPath);
      if (attribute.kind !== 'multi') throw Errors.scimInvalidFilter('A value path needs a multi-valued attribute');
      return attribute.exists((elementAttributes) => compileNode(kind, valFilter, elementAttributes));
    }
    default: {
      const { attrPath, compValue } = node as { attrPath: string; compValue?: unknown };
      if (element) {
        const target = element[attrPath.toLowerCase()];
        if (!target) throw Errors.scimInvalidFilter('Unsupported attribute in a value path');
        return compare(target, node.op, compValue);
      }
      const { attribute, sub } = resolveWithSub(kind, attrPath);
      if (attribute.kind === 'scalar') {
        if (sub) throw Errors.scimInvalidFilter('Unsupported filter attribute');
        return compare(attribute, node.op, compValue);
      }
      const target = attribute.attributes[sub ?? 'value'];
      if (!target) throw Errors.scimInvalidFilter('Unsupported filter attribute');
      return attribute.exists((elementAttributes) => compare(elementAttributes[sub ?? 'value']!, node.op, compValue));
    }
  }
}

function stripCorePrefix(kind: ScimResourceKind, path: string): string {
  const lower = path.toLowerCase();
  return lower.startsWith(CORE_PREFIX[kind]) ? lower.slice(CORE_PREFIX[kind].length) : lower;
}

function resolve(kind: ScimResourceKind, path: string): Attribute {
  const attribute = ATTRIBUTES[kind][stripCorePrefix(kind, path)];
  if (!attribute) throw Errors.scimInvalidFilter('Unsupported filter attribute');
  return attribute;
}

/** `emails.value` is the multi-valued `emails` and its sub-attribute `value`. */
function resolveWithSub(kind: ScimResourceKind, path: string): { attribute: Attribute; sub: string | null } {
  const name = stripCorePrefix(kind, path);
  const whole = ATTRIBUTES[kind][name];
  if (whole) return { attribute: whole, sub: null };
  const dot = name.indexOf('.');
  const parent = dot > 0 ? ATTRIBUTES[kind][name.slice(0, dot)] : undefined;
  if (!parent || parent.kind !== 'multi') throw Errors.scimInvalidFilter('Unsupported filter attribute');
  return { attribute: parent, sub: name.slice(dot + 1) };
}

const escapeLike = (value: string): string => value.replace(/[\\%_]/g, (c) => `\\${c}`);

function compare(attribute: Scalar, op: string, value: unknown): RawBuilder<SqlBool> {
  const column = attribute.column;
  if (op === 'pr') {
    return attribute.type === 'string' ? sql<SqlBool>`(${column} IS NOT NULL AND ${column} <> '')` : sql<SqlBool>`(${column} IS NOT NULL)`;
  }
  if (value === null) {
    // `eq null` is "not present", `ne null` "present" (RFC 7644 §3.4.2.2 on unassigned values).
    if (op === 'eq') return sql<SqlBool>`(${column} IS NULL)`;
    if (op === 'ne') return sql<SqlBool>`(${column} IS NOT NULL)`;
    throw Errors.scimInvalidFilter('null can only be compared with eq or ne');
  }
  switch (attribute.type) {
    case 'boolean': {
      if (typeof value !== 'boolean') throw Errors.scimInvalidFilter('This attribute is compared with true or false');
      // As text, so a boolean column and a jsonb element's text compare alike (no cast can fail).
      if (op === 'eq') return sql<SqlBool>`(lower((${column})::text) IS NOT DISTINCT FROM ${String(value)})`;
      if (op === 'ne') return sql<SqlBool>`(lower((${column})::text) IS DISTINCT FROM ${String(value)})`;
      throw Errors.scimInvalidFilter('Booleans have no order: use eq or ne');
    }
    case 'dateTime': {
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw Errors.scimInvalidFilter('This attribute is compared with a date-time');
      const at = new Date(value);
      const sqlOp = ORDER_OPERATORS[op];
      if (op === 'eq') return sql<SqlBool>`(${column} = ${at})`;
      if (op === 'ne') return sql<SqlBool>`(${column} IS DISTINCT FROM ${at})`;
      if (!sqlOp) throw Errors.scimInvalidFilter('Unsupported operator for a date-time');
      return sql<SqlBool>`(${column} ${sql.raw(sqlOp)} ${at})`;
    }
    default: {
      if (typeof value !== 'string') throw Errors.scimInvalidFilter('This attribute is compared with a string');
      const left = attribute.caseExact ? column : sql`lower(${column})`;
      const right = attribute.caseExact ? sql`${value}` : sql`lower(${value})`;
      const pattern = (before: string, after: string) =>
        attribute.caseExact ? sql`${before + escapeLike(value) + after}` : sql`lower(${before + escapeLike(value) + after})`;
      switch (op) {
        case 'eq':
          return sql<SqlBool>`(${left} = ${right})`;
        case 'ne':
          return sql<SqlBool>`(${left} IS DISTINCT FROM ${right})`;
        case 'co':
          return sql<SqlBool>`(${left} LIKE ${pattern('%', '%')})`;
        case 'sw':
          return sql<SqlBool>`(${left} LIKE ${pattern('', '%')})`;
        case 'ew':
          return sql<SqlBool>`(${left} LIKE ${pattern('%', '')})`;
        default: {
          const sqlOp = ORDER_OPERATORS[op];
          if (!sqlOp || attribute.type === 'id') throw Errors.scimInvalidFilter('Unsupported operator');
          return sql<SqlBool>`(${left} ${sql.raw(sqlOp)} ${right})`;
        }
      }
    }
  }
}

/** Fixed SQL operators by SCIM name (a lookup, never the client's text). */
const ORDER_OPERATORS: Record<string, string | undefined> = { gt: '>', ge: '>=', lt: '<', le: '<=' };
