// The discovery resources (RFC 7644 §4, RFC 7643 §5-7): what this server supports and the
// schemas of its resources. The schemas are RFC 7643 §8.7's, less what Keyhold does not keep
// (password is write-only and ignored: provisioned users sign in through SSO or set their own).
import {
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  MAX_PAGE_SIZE,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SERVICE_PROVIDER_CONFIG_SCHEMA,
  USER_SCHEMA,
} from './scim-schemas.js';

type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
interface AttributeOptions {
  type?: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime' | 'binary' | 'integer' | 'decimal';
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: Mutability;
  returned?: 'always' | 'never' | 'default' | 'request';
  uniqueness?: 'none' | 'server' | 'global';
  referenceTypes?: string[];
  canonicalValues?: string[];
  subAttributes?: Array<Record<string, unknown>>;
  description?: string;
}

function attribute(name: string, options: AttributeOptions = {}): Record<string, unknown> {
  const type = options.type ?? (options.subAttributes ? 'complex' : 'string');
  return {
    name,
    type,
    ...(options.subAttributes ? { subAttributes: options.subAttributes } : {}),
    multiValued: options.multiValued ?? false,
    description: options.description ?? name,
    required: options.required ?? false,
    ...(type === 'string' || type === 'reference' ? { caseExact: options.caseExact ?? false } : {}),
    ...(options.canonicalValues ? { canonicalValues: options.canonicalValues } : {}),
    mutability: options.mutability ?? 'readWrite',
    returned: options.returned ?? 'default',
    uniqueness: options.uniqueness ?? 'none',
    ...(options.referenceTypes ? { referenceTypes: options.referenceTypes } : {}),
  };
}

/** A multi-valued complex attribute with value/display/type/primary (emails, phoneNumbers, …). */
const multiValuedComplex = (
  name: string,
  { valueOptions = {}, types, options = {} }: { valueOptions?: AttributeOptions; types?: string[]; options?: AttributeOptions } = {},
) =>
  attribute(name, {
    ...options,
    multiValued: true,
    subAttributes: [
      attribute('value', valueOptions),
      attribute('display'),
      attribute('type', types ? { canonicalValues: types } : {}),
      attribute('primary', { type: 'boolean' }),
    ],
  });

const USER_ATTRIBUTES = [
  attribute('userName', { required: true, uniqueness: 'server', description: 'Unique within the account, case-insensitively; kept as sent' }),
  attribute('name', {
    subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attribute(n)),
  }),
  attribute('displayName'),
  attribute('nickName'),
  attribute('profileUrl', { type: 'reference', referenceTypes: ['external'] }),
  attribute('title'),
  attribute('userType'),
  attribute('preferredLanguage'),
  attribute('locale'),
  attribute('timezone'),
  // Required: every Keyhold user is active or not, so `active` cannot be removed (a POST
  // without it still creates an active user, as directories expect).
  attribute('active', { type: 'boolean', required: true }),
  // Required here because a Keyhold user needs an address: the server also accepts a userName
  // that is an email address instead (the contract's rule), which a schema cannot express.
  multiValuedComplex('emails', {
    valueOptions: { required: true },
    types: ['work', 'home', 'other'],
    options: {
      required: true,
      description: 'The primary (else first) value is the Keyhold user\'s email; may be omitted when userName is an email address',
    },
  }),
  multiValuedComplex('phoneNumbers', { types: ['work', 'home', 'mobile', 'fax', 'pager', 'other'] }),
  multiValuedComplex('ims'),
  multiValuedComplex('photos', { valueOptions: { type: 'reference', referenceTypes: ['external'] }, types: ['photo', 'thumbnail'] }),
  attribute('addresses', {
    multiValued: true,
    subAttributes: [
      ...['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country'].map((n) => attribute(n)),
      attribute('type', { canonicalValues: ['work', 'home', 'other'] }),
      attribute('primary', { type: 'boolean' }),
    ],
  }),
  attribute('groups', {
    multiValued: true,
    mutability: 'readOnly',
    subAttributes: [
      attribute('value', { mutability: 'readOnly' }),
      attribute('$ref', { type: 'reference', referenceTypes: ['Group'], mutability: 'readOnly' }),
      attribute('display', { mutability: 'readOnly' }),
      attribute('type', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
    ],
  }),
  multiValuedComplex('entitlements'),
  multiValuedComplex('roles'),
  multiValuedComplex('x509Certificates', { valueOptions: { type: 'binary' } }),
];

const ENTERPRISE_ATTRIBUTES = [
  ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((n) => attribute(n)),
  attribute('manager', {
    subAttributes: [
      attribute('value'),
      attribute('$ref', { type: 'reference', referenceTypes: ['User'] }),
      attribute('displayName', { mutability: 'readOnly' }),
    ],
  }),
];

const GROUP_ATTRIBUTES = [
  attribute('displayName', { required: true, uniqueness: 'server', description: 'Unique within the account; what scim-settings group_roles names' }),
  attribute('members', {
    multiValued: true,
    subAttributes: [
      attribute('value', { mutability: 'immutable' }),
      attribute('$ref', { type: 'reference', referenceTypes: ['User'], mutability: 'immutable' }),
      attribute('display', { mutability: 'readOnly' }),
      attribute('type', { mutability: 'immutable', canonicalValues: ['User'] }),
    ],
  }),
];

const schema = (baseUrl: string, { id, name, description, attributes }: { id: string; name: string; description: string; attributes: Array<Record<string, unknown>> }) => ({
  schemas: [SCHEMA_SCHEMA],
  id,
  name,
  description,
  attributes,
  meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${id}` },
});

export function schemas(baseUrl: string): Array<Record<string, unknown>> {
  return [
    schema(baseUrl, { id: USER_SCHEMA, name: 'User', description: 'User Account', attributes: USER_ATTRIBUTES }),
    schema(baseUrl, { id: ENTERPRISE_USER_SCHEMA, name: 'EnterpriseUser', description: 'Enterprise User', attributes: ENTERPRISE_ATTRIBUTES }),
    schema(baseUrl, { id: GROUP_SCHEMA, name: 'Group', description: 'Group', attributes: GROUP_ATTRIBUTES }),
  ];
}

export function resourceTypes(baseUrl: string): Array<Record<string, unknown>> {
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

export function serviceProviderConfig(baseUrl: string, documentationUri: string): Record<string, unknown> {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    documentationUri,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    changePassword: { supported: false },
    sort: { supported: false },
    // No ETags: PUT and PATCH are last-writer-wins (each in one transaction, rows locked).
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A SCIM token of the account: POST /accounts/me/scim-tokens',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}
