import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TSchema } from '@sinclair/typebox';
import { CONSOLE_HEADERS } from './console/headers.js';
import {
  AdminKeyCreate,
  MemberCreate,
  MemberList,
  MemberPatch,
  MemberRecord,
  AdminKeyList,
  AdminKeyRecord,
  AdminKeyWithSecret,
  AuditEntry,
  Credits,
  KeyCreate,
  KeyList,
  KeyPatch,
  KeyRecord,
  KeyWithSecret,
  Owner,
  Problem,
  RateLimit,
  VerifyRequest,
  VerifyResponse,
  Role,
  RoleCreate,
  RolePatch,
  RoleList,
  KeyImport,
  KeyImportItem,
  KeyImportResult,
} from './schemas.js';
import { Identity, IdentityCreate, IdentityList, IdentityPatch, IdentityUsage } from './identity-schemas.js';
import type { App } from './types.js';

/*
 * The OpenAPI document, in one place so that route files stay about routes:
 * - every operation gets a stable operationId: from OPERATION_IDS, or else one generated from
 *   its method and path (so a route added without an entry still gets a unique id);
 * - the schemas of entities and requests are named components (`$ref`s), found by identity (the
 *   exported schema objects of schemas.ts) or by where a route uses them (NAMED_AT);
 * - a POST body is required only when its schema requires a property (an absent body reads as `{}`), and the main components carry examples;
 * - `/docs` serves an interactive reference (Swagger UI, files bundled in the package: no
 *   network at runtime) under the console's Content-Security-Policy.
 */

/** `METHOD /path` (Fastify's `:param` syntax) → operationId. Ids are public: never rename one. */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /metrics': 'getMetrics',
  'POST /v1/verify': 'verifyKey',
  'POST /v1/keys': 'createKey',
  'GET /v1/keys': 'listKeys',
  'GET /v1/keys/:id': 'getKey',
  'PATCH /v1/keys/:id': 'updateKey',
  'DELETE /v1/keys/:id': 'deleteKey',
  'POST /v1/keys/:id/disable': 'disableKey',
  'POST /v1/keys/:id/enable': 'enableKey',
  'POST /v1/keys/:id/regenerate': 'regenerateKey',
  'GET /v1/keys/:id/usage': 'getKeyUsage',
  'POST /v1/identities': 'createIdentity',
  'GET /v1/identities': 'listIdentities',
  'GET /v1/identities/:id': 'getIdentity',
  'PATCH /v1/identities/:id': 'updateIdentity',
  'DELETE /v1/identities/:id': 'deleteIdentity',
  'GET /v1/identities/:id/usage': 'getIdentityUsage',
  'POST /v1/keys/:id/narrowing': 'startKeyNarrowing',
  'GET /v1/keys/:id/narrowing': 'getKeyNarrowing',
  'DELETE /v1/keys/:id/narrowing': 'cancelKeyNarrowing',
  'POST /v1/keys/import': 'importKeys',
  'POST /v1/roles': 'createRole',
  'GET /v1/roles': 'listRoles',
  'GET /v1/roles/:name': 'getRole',
  'PATCH /v1/roles/:name': 'updateRole',
  'DELETE /v1/roles/:name': 'deleteRole',
  'POST /v1/admin-keys': 'createAdminKey',
  'GET /v1/admin-keys': 'listAdminKeys',
  'GET /v1/admin-keys/:id': 'getAdminKey',
  'PATCH /v1/admin-keys/:id': 'updateAdminKey',
  'DELETE /v1/admin-keys/:id': 'deleteAdminKey',
  'POST /v1/admin-keys/:id/disable': 'disableAdminKey',
  'POST /v1/admin-keys/:id/enable': 'enableAdminKey',
  'POST /v1/members': 'createMember',
  'GET /v1/members': 'listMembers',
  'GET /v1/members/:id': 'getMember',
  'PATCH /v1/members/:id': 'updateMember',
  'DELETE /v1/members/:id': 'deleteMember',
  'GET /v1/audit': 'listAuditEntries',
  'GET /v1/audit/verify': 'verifyAuditChain',
  'GET /v1/logs': 'listVerificationLogs',
  'GET /v1/policy': 'getPolicy',
  'PUT /v1/policy': 'updatePolicy',
  'POST /v1/policy/preview': 'previewPolicy',
  'POST /v1/teams/:team/policy/preview': 'previewTeamPolicy',
  'GET /v1/reports/governance': 'getGovernanceReport',
  'POST /v1/leaks': 'reportLeaks',
  'POST /v1/webhooks': 'createWebhook',
  'GET /v1/webhooks': 'listWebhooks',
  'GET /v1/webhooks/:id': 'getWebhook',
  'DELETE /v1/webhooks/:id': 'deleteWebhook',
  'GET /v1/webhooks/:id/deliveries': 'listWebhookDeliveries',
  'GET /v1/notifications/deliveries': 'listMailDeliveries',
  'POST /console/api/session': 'createConsoleSession',
  'GET /console/api/session': 'getConsoleSession',
  'DELETE /console/api/session': 'deleteConsoleSession',
  'GET /console/api/sign-in-options': 'getConsoleSignInOptions',
  'GET /console/api/oidc/login': 'startOidcLogin',
  'GET /console/api/oidc/callback': 'finishOidcLogin',
};

/** The operationId of a route: the table's, or `<method><Path>` in camel case (stable, unique per route). */
export function operationIdFor(method: string, url: string): string {
  const known = OPERATION_IDS[`${method} ${url}`];
  if (known !== undefined) return known;
  const words = url
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return method.toLowerCase() + words.join('');
}

/** Schemas named wherever they are used, by identity. */
const NAMED: ReadonlyMap<unknown, string> = new Map<TSchema, string>([
  [KeyRecord, 'Key'],
  [KeyCreate, 'KeyCreate'],
  [KeyPatch, 'KeyPatch'],
  [KeyWithSecret, 'KeyWithSecret'],
  [KeyList, 'KeyPage'],
  [Owner, 'Owner'],
  [RateLimit, 'RateLimit'],
  [Credits, 'Credits'],
  [Problem, 'Problem'],
  [VerifyRequest, 'VerifyRequest'],
  [VerifyResponse, 'VerifyResult'],
  [AdminKeyRecord, 'AdminKey'],
  [AdminKeyCreate, 'AdminKeyCreate'],
  [AdminKeyWithSecret, 'AdminKeyWithSecret'],
  [AdminKeyList, 'AdminKeyPage'],
  [AuditEntry, 'AuditEntry'],
  [Identity, 'Identity'],
  [IdentityCreate, 'IdentityCreate'],
  [IdentityPatch, 'IdentityPatch'],
  [IdentityList, 'IdentityPage'],
  [IdentityUsage, 'IdentityUsage'],
  [Role, 'Role'],
  [RoleCreate, 'RoleCreate'],
  [RolePatch, 'RolePatch'],
  [RoleList, 'RoleList'],
  [KeyImport, 'KeyImport'],
  [KeyImportItem, 'KeyImportItem'],
  [KeyImportResult, 'KeyImportResult'],
  [MemberRecord, 'Member'],
  [MemberCreate, 'MemberCreate'],
  [MemberPatch, 'MemberPatch'],
  [MemberList, 'MemberPage'],
]);

/** Schemas named by where a route uses them: `METHOD /path` → location in its schema → name. */
const NAMED_AT: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'POST /v1/keys/:id/disable': { body: 'ReasonRequest' },
  'POST /v1/keys/:id/enable': { body: 'ReasonRequest' },
  'POST /v1/keys/:id/regenerate': { body: 'RegenerateRequest' },
  'GET /v1/keys/:id/usage': { 'response.200': 'KeyUsage' },
  'POST /v1/keys/:id/narrowing': { body: 'NarrowingStart', 'response.201': 'Narrowing' },
  'GET /v1/keys/:id/narrowing': {
    'response.200': 'Narrowing',
    'response.200.properties.examples.items': 'ShadowRefusal',
  },
  'PATCH /v1/admin-keys/:id': { body: 'AdminKeyPatch' },
  'GET /v1/audit': { 'response.200': 'AuditPage' },
  'GET /v1/audit/verify': { 'response.200': 'AuditChainStatus' },
  'GET /v1/logs': { 'response.200': 'LogPage', 'response.200.properties.items.items': 'LogEntry' },
  'GET /v1/policy': { 'response.200': 'Policy' },
  'PUT /v1/policy': { body: 'PolicyUpdate', 'response.200': 'Policy' },
  'POST /v1/policy/preview': { body: 'PolicyUpdate', 'response.200': 'PolicyPreview' },
  'POST /v1/teams/:team/policy/preview': { body: 'PolicyUpdate', 'response.200': 'PolicyPreview' },
  'GET /v1/reports/governance': { 'response.200': 'GovernanceReport' },
  'POST /v1/leaks': { body: 'LeakReportRequest', 'response.200': 'LeakReportResult' },
  'POST /v1/webhooks': {
    body: 'WebhookCreate',
    'response.201': 'WebhookWithSecret',
    'response.201.properties.record': 'Webhook',
  },
  'GET /v1/webhooks': { 'response.200.properties.items.items': 'Webhook' },
  'GET /v1/webhooks/:id': { 'response.200': 'Webhook' },
  'GET /v1/webhooks/:id/deliveries': {
    'response.200': 'WebhookDeliveryPage',
    'response.200.properties.items.items': 'WebhookDelivery',
  },
  'GET /v1/notifications/deliveries': {
    'response.200': 'MailDeliveryPage',
    'response.200.properties.items.items': 'MailDelivery',
  },
  'POST /console/api/session': { body: 'ConsoleSessionCreate', 'response.200': 'ConsoleSession' },
  'GET /console/api/session': { 'response.200': 'ConsoleSession' },
};

const MARK = 'x-keywarden-schema';
type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null;

/** A copy of `node` whose named sub-schemas carry the marker (the route's own schema is never changed). */
function markByIdentity(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(markByIdentity);
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = markByIdentity(v);
  const name = NAMED.get(node);
  if (name !== undefined) out[MARK] = name;
  return out;
}

function markAt(schema: Json, location: string, name: string): void {
  let node: unknown = schema;
  for (const part of location.split('.')) node = isObject(node) ? node[part] : undefined;
  if (isObject(node)) node[MARK] = name;
}

/** Replaces each marked schema by a `$ref`, moving it to `components.schemas` (innermost first). */
function hoist(node: unknown, schemas: Json): unknown {
  if (Array.isArray(node)) return node.map((v) => hoist(v, schemas));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) if (k !== MARK) out[k] = hoist(v, schemas);
  const name = node[MARK];
  if (typeof name !== 'string') return out;
  schemas[name] ??= out;
  return { $ref: `#/components/schemas/${name}` };
}

const EXAMPLES: Readonly<Record<string, unknown[]>> = {
  KeyCreate: [
    {
      name: 'crm-prod-agent-call',
      environment: 'production',
      system: 'crm',
      purpose: 'agent-call',
      owner: { team: 'crm', contact: 'crm-oncall@example.com' },
      permissions: ['agents:invoke:agt_42'],
      ratelimits: [{ name: 'default', limit: 100, windowSeconds: 60 }],
      expiresAt: '2027-06-01T00:00:00Z',
    },
  ],
  VerifyRequest: [
    { key: 'kw_prod_…', environment: 'production', permission: 'agents:invoke', resource: 'agt_42' },
  ],
  VerifyResult: [
    { valid: true, code: 'VALID', keyId: 'key_Vbi8rJ8Y7hwhLTXGJ2b', name: 'crm-prod-agent-call' },
    {
      valid: false,
      code: 'INSUFFICIENT_PERMISSIONS',
      detail: 'the key lacks agents:invoke on agt_43',
      keyId: 'key_Vbi8rJ8Y7hwhLTXGJ2b',
    },
  ],
  Problem: [
    {
      type: 'urn:keywarden:problem:not_found',
      title: 'not found',
      status: 404,
      detail: 'no key with id key_missing',
      code: 'NOT_FOUND',
      requestId: 'req_1a2b3c',
    },
  ],
};

interface Operation {
  operationId?: string;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
}

/** A request body schema that requires nothing accepts an absent body (read as `{}`). */
function bodyIsOptional(op: Operation, schemas: Json): boolean {
  let schema = op.requestBody?.content?.['application/json']?.schema;
  if (isObject(schema) && typeof schema.$ref === 'string') {
    schema = schemas[schema.$ref.replace('#/components/schemas/', '')];
  }
  return isObject(schema) && (!Array.isArray(schema.required) || schema.required.length === 0);
}

/** Registers @fastify/swagger and the `/docs` reference; call before any route is added. */
export async function registerOpenApi(app: App): Promise<void> {
  app.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {}) as { operationId?: string };
    const method = Array.isArray(route.method) ? route.method.join('_') : route.method;
    schema.operationId ??= operationIdFor(method, route.url);
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Keywarden',
        version: '0.1.0',
        description:
          'API key management: issue, verify, govern. Errors are RFC 9457 problem+json (`Problem`).',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'an admin key (kw_adm_…)' },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const marked = markByIdentity(schema) as Json;
      const method = Array.isArray(route.method) ? route.method.join('_') : route.method;
      for (const [location, name] of Object.entries(NAMED_AT[`${method} ${route.url}`] ?? {})) {
        markAt(marked, location, name);
      }
      return { schema: marked, url };
    },
    transformObject: (doc) => {
      const api = (doc as { openapiObject: Json }).openapiObject;
      const components = (api.components ??= {}) as Json;
      const schemas = (components.schemas ??= {}) as Json;
      const paths = hoist(api.paths, schemas) as Record<string, Record<string, Operation>>;
      for (const ops of Object.values(paths)) {
        // Only POST reads an absent body as `{}` (app.ts, preValidation).
        const op = ops.post;
        if (op?.requestBody !== undefined && bodyIsOptional(op, schemas)) op.requestBody.required = false;
      }
      for (const [name, examples] of Object.entries(EXAMPLES)) {
        const s = schemas[name];
        if (isObject(s)) s.examples = examples;
      }
      api.paths = paths;
      return api;
    },
  });
  const { 'content-security-policy': csp = '', ...otherHeaders } = CONSOLE_HEADERS;
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, validatorUrl: null },
    // The console's policy; Swagger UI's stylesheet also draws its icons from data: URLs.
    staticCSP: csp.replace("img-src 'self'", "img-src 'self' data:"),
    uiHooks: {
      onRequest: (_req, reply, done) => {
        void reply.headers(otherHeaders);
        done();
      },
    },
  });
}
