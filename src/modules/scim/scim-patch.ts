// PATCH (RFC 7644 §3.5.2) through scim-patch: the operations are applied to the resource as
// GET would show it, and the result is then saved as a PUT of it would be, so a PATCH obeys
// exactly the rules of a replace. What Entra ID and Okta send beside the RFC is normalised
// first: operation names in any case ("Replace"), path-less value objects (with dotted keys
// such as "name.givenName", which scim-patch reads), and booleans as strings ("False", read
// by the mapping as it reads any body).
import { scimPatch, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { Errors, ScimError, type ScimErrorType } from '../../lib/errors.js';
import { ENTERPRISE_USER_SCHEMA, PATCH_OP_SCHEMA } from './scim-schemas.js';

const MAX_OPERATIONS = 1000;
const OPERATIONS = new Set(['add', 'remove', 'replace']);
const SCIM_TYPES = new Set<ScimErrorType>(['invalidPath', 'noTarget', 'invalidValue', 'invalidSyntax', 'mutability', 'invalidFilter']);

/** The patched copy of `resource` (never `resource` itself). */
export function applyPatch(resource: Record<string, unknown>, body: unknown): Record<string, unknown> {
  const operations = readOperations(body);
  let copy = structuredClone(resource) as unknown as ScimResource;
  try {
    for (const operation of operations) {
      copy = applyToExtension(copy as unknown as Record<string, unknown>, operation) ?? scimPatch(copy, [operation], { mutateDocument: true, treatMissingAsAdd: true });
    }
    return copy as unknown as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ScimError) throw err;
    const code = (err as { scimCode?: unknown }).scimCode;
    const scimType = typeof code === 'string' && SCIM_TYPES.has(code as ScimErrorType) ? (code as ScimErrorType) : 'invalidValue';
    // The library's messages quote the request's paths: a fixed phrase per kind instead.
    throw new ScimError(400, scimType, scimType === 'noTarget' ? 'The path selects nothing' : 'The operation cannot be applied');
  }
}

/**
 * An operation whose path is an extension schema's URN itself (the whole extension object),
 * which scim-patch does not resolve: add merges, replace sets, remove deletes. Null otherwise.
 */
function applyToExtension(resource: Record<string, unknown>, operation: ScimPatchOperation): ScimResource | null {
  const path = 'path' in operation && typeof operation.path === 'string' ? operation.path : undefined;
  const key = path === undefined ? undefined : Object.keys(EXTENSION_PATHS).find((urn) => urn.toLowerCase() === path.toLowerCase());
  if (key === undefined) return null;
  if (operation.op === 'remove') {
    delete resource[key];
  } else {
    const value = (operation as { value?: unknown }).value;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw Errors.scimInvalidValue('The extension value must be an object');
    const current = resource[key];
    resource[key] = operation.op === 'add' && current && typeof current === 'object' ? { ...current, ...value } : { ...value };
    const schemas = Array.isArray(resource.schemas) ? (resource.schemas as string[]) : [];
    if (!schemas.includes(key)) resource.schemas = [...schemas, key];
  }
  return resource as unknown as ScimResource;
}

const EXTENSION_PATHS: Record<string, true> = { [ENTERPRISE_USER_SCHEMA]: true };

function readOperations(body: unknown): ScimPatchOperation[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw Errors.scimInvalidSyntax('The body must be a PatchOp message');
  const { schemas, Operations } = body as { schemas?: unknown; Operations?: unknown };
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())) {
    throw Errors.scimInvalidSyntax(`schemas must be ["${PATCH_OP_SCHEMA}"]`);
  }
  if (!Array.isArray(Operations) || Operations.length === 0) throw Errors.scimInvalidSyntax('Operations must be a non-empty array');
  if (Operations.length > MAX_OPERATIONS) throw Errors.scimInvalidSyntax('Too many operations');
  return Operations.map((operation: unknown) => {
    if (operation === null || typeof operation !== 'object') throw Errors.scimInvalidSyntax('Each operation must be an object');
    const { op, path, value } = operation as { op?: unknown; path?: unknown; value?: unknown };
    const name = typeof op === 'string' ? op.toLowerCase() : '';
    if (!OPERATIONS.has(name)) throw Errors.scimInvalidSyntax('op must be add, remove or replace');
    if (path !== undefined && typeof path !== 'string') throw Errors.scimInvalidPath('path must be a string');
    if (name === 'remove' && (path === undefined || path === '')) throw Errors.scimNoTarget('remove needs a path');
    if (name !== 'remove' && value === undefined) throw Errors.scimInvalidValue(`${name} needs a value`);
    if (name !== 'remove' && path === undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw Errors.scimInvalidValue('Without a path, value must be an object');
    }
    return { op: name, ...(path !== undefined && path !== '' ? { path } : {}), ...(value !== undefined ? { value } : {}) } as ScimPatchOperation;
  }).flatMap(removalsByValue);
}

/**
 * Entra ID removes members as `{"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}`
 * (with `"$ref": null`), which an equality match on whole elements would miss: each element
 * named by its `value` becomes its own `members[value eq "<id>"]` removal.
 */
function removalsByValue(operation: ScimPatchOperation): ScimPatchOperation[] {
  const { value } = operation as { value?: unknown };
  const path = 'path' in operation ? operation.path : undefined;
  if (operation.op !== 'remove' || !Array.isArray(value) || typeof path !== 'string' || /[[.]/.test(path)) return [operation];
  return value.map((item: unknown) => {
    const id = (item as { value?: unknown } | null)?.value;
    if (typeof id !== 'string') throw Errors.scimInvalidValue('Each value to remove needs its value');
    return { op: 'remove', path: `${path}[value eq ${JSON.stringify(id)}]` } as ScimPatchOperation;
  });
}
