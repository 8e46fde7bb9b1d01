// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a reply
// carries. Names are case-insensitive and may carry their schema's URN; `id` and `schemas` are
// always returned.
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from './scim-schemas.js';

const ALWAYS = new Set(['id', 'schemas']);
const CORE_PREFIXES = [`${USER_SCHEMA}:`, `${GROUP_SCHEMA}:`].map((p) => p.toLowerCase());
const EXTENSION = ENTERPRISE_USER_SCHEMA.toLowerCase();

/** A comma-separated list as paths: [extension key or null, attribute, sub-attribute or null]. */
type AttributePath = { extension: boolean; name: string; sub: string | null };

export function parseAttributeList(text: string | undefined): AttributePath[] | null {
  if (text === undefined || text.trim() === '') return null;
  return text.split(',').map((raw) => {
    let path = raw.trim().toLowerCase();
    for (const prefix of CORE_PREFIXES) if (path.startsWith(prefix)) path = path.slice(prefix.length);
    let extension = false;
    if (path === EXTENSION) return { extension: true, name: '', sub: null };
    if (path.startsWith(`${EXTENSION}:`)) {
      extension = true;
      path = path.slice(EXTENSION.length + 1);
    }
    const [name, sub] = path.split('.', 2);
    return { extension, name: name ?? '', sub: sub ?? null };
  });
}

const findKey = (object: Record<string, unknown>, lowerName: string): string | undefined =>
  Object.keys(object).find((key) => key.toLowerCase() === lowerName);

function pick(source: Record<string, unknown>, target: Record<string, unknown>, path: AttributePath): void {
  const key = findKey(source, path.name);
  if (key === undefined) return;
  const value = source[key];
  if (path.sub === null || value === null || typeof value !== 'object') {
    target[key] = value;
    return;
  }
  const subOf = (item: unknown) => {
    if (item === null || typeof item !== 'object') return {};
    const subKey = findKey(item as Record<string, unknown>, path.sub!);
    return subKey === undefined ? {} : { [subKey]: (item as Record<string, unknown>)[subKey] };
  };
  if (Array.isArray(value)) {
    const existing = (target[key] as Array<Record<string, unknown>> | undefined) ?? value.map(() => ({}));
    target[key] = existing.map((item, i) => ({ ...item, ...subOf(value[i]) }));
  } else {
    target[key] = { ...((target[key] as Record<string, unknown> | undefined) ?? {}), ...subOf(value) };
  }
}

function remove(target: Record<string, unknown>, path: AttributePath): void {
  const key = findKey(target, path.name);
  if (key === undefined || ALWAYS.has(key)) return;
  if (path.sub === null) {
    delete target[key];
    return;
  }
  const value = target[key];
  const dropSub = (item: unknown) => {
    if (item === null || typeof item !== 'object') return item;
    const copy = { ...(item as Record<string, unknown>) };
    const subKey = findKey(copy, path.sub!);
    if (subKey !== undefined) delete copy[subKey];
    return copy;
  };
  target[key] = Array.isArray(value) ? value.map(dropSub) : dropSub(value);
}

export function project(
  resource: Record<string, unknown>,
  attributes: AttributePath[] | null,
  excluded: AttributePath[] | null,
): Record<string, unknown> {
  if (attributes) {
    const out: Record<string, unknown> = { schemas: resource.schemas, id: resource.id };
    const extension = resource[ENTERPRISE_USER_SCHEMA] as Record<string, unknown> | undefined;
    for (const path of attributes) {
      if (path.extension) {
        if (!extension) continue;
        if (path.name === '') out[ENTERPRISE_USER_SCHEMA] = extension;
        else {
          const target = (out[ENTERPRISE_USER_SCHEMA] as Record<string, unknown> | undefined) ?? {};
          pick(extension, target, path);
          if (Object.keys(target).length > 0) out[ENTERPRISE_USER_SCHEMA] = target;
        }
      } else pick(resource, out, path);
    }
    return out;
  }
  if (excluded) {
    const out: Record<string, unknown> = { ...resource };
    for (const path of excluded) {
      if (!path.extension) remove(out, path);
      else if (path.name === '') delete out[ENTERPRISE_USER_SCHEMA];
      else if (out[ENTERPRISE_USER_SCHEMA]) {
        const copy = { ...(out[ENTERPRISE_USER_SCHEMA] as Record<string, unknown>) };
        remove(copy, path);
        out[ENTERPRISE_USER_SCHEMA] = copy;
      }
    }
    return out;
  }
  return resource;
}

/** Whether a projection leaves `name` out (Groups then skip reading members). */
export function leavesOut(name: string, attributes: AttributePath[] | null, excluded: AttributePath[] | null): boolean {
  if (attributes) return !attributes.some((p) => !p.extension && p.name === name);
  return excluded?.some((p) => !p.extension && p.name === name && p.sub === null) ?? false;
}
