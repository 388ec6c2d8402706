import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ENVIRONMENTS } from '../core/keys.js';
import { ADMIN_PERMISSIONS } from '../core/model.js';
import { PERMISSION_PATTERN } from '../core/permissions.js';
import { VERIFY_CODES } from '../core/verify.js';

/**
 * Request and response schemas. The same objects validate requests (Ajv), serialise responses
 * (fast-json-stringify) and generate /openapi.json, so the three cannot drift apart.
 */
/**
 * `T | null` as a JSON-schema type array (`type: ['string', 'null']`) rather than `anyOf`:
 * fast-json-stringify resolves `anyOf` by running Ajv on every value it serialises, which cost
 * several microseconds per field on the verify response.
 */
export const Nullable = <T extends TSchema>(t: T) => {
  const type = (t as { type?: unknown }).type;
  return typeof type === 'string'
    ? Type.Unsafe<Static<T> | null>({ ...t, type: [type, 'null'] })
    : Type.Union([t, Type.Null()]);
};
export const Str = (max: number, extra: object = {}) =>
  Type.String({ minLength: 1, maxLength: max, ...extra });
const DateTime = Type.String({ format: 'date-time', maxLength: 40 });
/** A closed set of strings as a JSON-schema enum, typed as the union of its values. */
const OneOf = <T extends string>(values: readonly T[], description?: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

export const Environment = OneOf(ENVIRONMENTS);
export const Name = Str(128, { description: 'system-env-purpose, e.g. crm-prod-agent-call' });
export const Permission = Type.String({
  maxLength: 300,
  description: 'resource:action[:resourceId], resource:* or *',
});
const PermissionList = Type.Array(Permission, { maxItems: 200 });
export const Owner = Type.Object(
  { team: Nullable(Str(128)), contact: Nullable(Str(256)) },
  { additionalProperties: false },
);
export const OwnerInput = Type.Object(
  { team: Type.Optional(Nullable(Str(128))), contact: Type.Optional(Nullable(Str(256))) },
  { additionalProperties: false },
);
export const RateLimit = Type.Object(
  {
    name: Str(64, { pattern: '^[A-Za-z0-9_.-]+$' }),
    limit: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
    windowSeconds: Type.Integer({ minimum: 1, maximum: 31_536_000 }),
  },
  { additionalProperties: false },
);
/**
 * The largest credit balance (and refill amount): what both databases store, as PostgreSQL's
 * balance columns are 32-bit integers. A larger one was stored on SQLite but failed the key's
 * insert on PostgreSQL with a 500; a balance's uses are summed below it, so the usage writer's
 * subtraction stays in range too.
 */
export const CREDITS_MAX = 2_147_483_647;
export const Credits = Type.Object(
  {
    remaining: Type.Integer({ minimum: 0, maximum: CREDITS_MAX }),
    refill: Type.Optional(
      Nullable(
        Type.Object(
          {
            amount: Type.Integer({ minimum: 1, maximum: CREDITS_MAX }),
            interval: OneOf(['daily', 'monthly'] as const),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
export const Metadata = Type.Object(
  {},
  { additionalProperties: true, description: 'free JSON object, at most 8 KiB' },
);
const Cidr = Type.String({ maxLength: 64, description: 'IPv4/IPv6 address or CIDR range' });

const mutable = {
  system: Type.Optional(Nullable(Str(128))),
  purpose: Type.Optional(Nullable(Str(256))),
  owner: Type.Optional(Nullable(OwnerInput)),
  customerId: Type.Optional(Nullable(Str(128))),
  identityId: Type.Optional(
    Nullable(Str(64, { description: 'the identity (idn_…) whose limits and credits the key shares' })),
  ),
  permissions: Type.Optional(PermissionList),
  ratelimits: Type.Optional(Type.Array(RateLimit, { maxItems: 10 })),
  credits: Type.Optional(Nullable(Credits)),
  ipAllowlist: Type.Optional(Type.Array(Cidr, { maxItems: 100 })),
  expiresAt: Type.Optional(Nullable(DateTime)),
  metadata: Type.Optional(Metadata),
  roles: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      maxItems: 20,
      description: 'role names; the key holds their permissions too (docs/roles.md)',
    }),
  ),
};

export const KeyCreate = Type.Object(
  { name: Name, environment: Environment, ...mutable },
  { additionalProperties: false },
);
export const KeyPatch = Type.Object(
  { name: Type.Optional(Name), ...mutable },
  { additionalProperties: false },
);

export const KeyStatus = OneOf(['active', 'disabled', 'expired', 'deleted'] as const);
export const KeyRecord = Type.Object({
  id: Type.String(),
  name: Type.String(),
  environment: Environment,
  system: Nullable(Type.String()),
  purpose: Nullable(Type.String()),
  owner: Owner,
  customerId: Nullable(Type.String()),
  identityId: Nullable(Type.String()),
  permissions: Type.Array(Type.String()),
  ratelimits: Type.Array(RateLimit),
  credits: Nullable(Credits),
  ipAllowlist: Type.Array(Type.String()),
  expiresAt: Nullable(Type.String()),
  metadata: Metadata,
  status: KeyStatus,
  start: Type.String(),
  end: Type.String(),
  createdAt: Type.String(),
  createdBy: Nullable(Type.String()),
  updatedAt: Type.String(),
  lastUsedAt: Nullable(Type.String()),
  disabledAt: Nullable(Type.String()),
  disabledReason: Nullable(Type.String()),
  rotatedAt: Nullable(Type.String()),
  version: Type.Integer(),
  roles: Type.Array(Type.String(), { description: 'roles held; permissions above are the key’s own' }),
  imported: Nullable(
    Type.Object(
      {
        at: Type.String(),
        from: OneOf(['plaintext', 'hash'] as const, 'hash: only the SHA-256 was given; shown as "imported"'),
      },
      { description: 'set on a key imported from another system (docs/import.md)' },
    ),
  ),
});
export const KeyWithSecret = Type.Object({
  key: Type.String({ description: 'the plaintext key: shown this once, never again' }),
  record: KeyRecord,
});
export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String(),
  requestId: Type.Optional(Type.String()),
});

/** A keyset page of `item`: `{items, nextCursor}` (null on the last page). */
export const PageOf = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });
export const KeyList = PageOf(KeyRecord);
export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
export const ReasonBody = Type.Optional(
  Type.Object({ reason: Type.Optional(Str(500)) }, { additionalProperties: false }),
);
export const Limit = Type.Integer({ minimum: 1, maximum: 500, default: 50 });
export const Cursor = Type.String({ maxLength: 64 });

export const KeyListQuery = Type.Object(
  {
    environment: Type.Optional(Environment),
    status: Type.Optional(KeyStatus),
    team: Type.Optional(Str(128)),
    system: Type.Optional(Str(128)),
    customerId: Type.Optional(Str(128)),
    identityId: Type.Optional(Str(64)),
    q: Type.Optional(Type.String({ maxLength: 128 })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

export const VerifyCode = OneOf(VERIFY_CODES);
export const VerifyRequest = Type.Object(
  {
    key: Type.String({ maxLength: 512 }),
    environment: Environment,
    permission: Type.Optional(Permission),
    permissions: Type.Optional(Type.Array(Permission, { maxItems: 50 })),
    resource: Type.Optional(Str(128)),
    ip: Type.Optional(
      Type.String({ maxLength: 64, description: "the end client's IP, as the platform saw it" }),
    ),
    userAgent: Type.Optional(
      Type.String({ maxLength: 512, description: "the end client's User-Agent (default: this request's)" }),
    ),
    cost: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 1 })),
  },
  { additionalProperties: false },
);
const RateLimitStateSchema = Type.Object({
  name: Type.String(),
  limit: Type.Integer(),
  remaining: Type.Integer(),
  resetAt: Type.String(),
});
export const VerifyResponse = Type.Object({
  valid: Type.Boolean(),
  code: VerifyCode,
  detail: Type.Optional(Type.String()),
  keyId: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  environment: Type.Optional(Environment),
  customerId: Type.Optional(Nullable(Type.String())),
  owner: Type.Optional(Owner),
  permissions: Type.Optional(Type.Array(Type.String())),
  expiresAt: Type.Optional(Nullable(Type.String())),
  ratelimit: Type.Optional(Nullable(RateLimitStateSchema)),
  credits: Type.Optional(Nullable(Type.Object({ remaining: Type.Integer() }))),
  metadata: Type.Optional(Metadata),
  rotation: Type.Optional(Type.Object({ replacedAt: Type.String(), expiresAt: Type.String() })),
  identity: Type.Optional(
    Type.Object(
      {
        id: Type.String(),
        externalId: Type.String(),
        ratelimit: Nullable(RateLimitStateSchema),
        credits: Nullable(Type.Object({ remaining: Type.Integer() })),
      },
      { description: "the key's identity: its tightest limit and its balance (docs/identities.md)" },
    ),
  ),
});

export const AdminPermission = OneOf(ADMIN_PERMISSIONS);
export const AdminKeyCreate = Type.Object(
  {
    name: Str(128),
    permissions: Type.Array(AdminPermission, { minItems: 1, maxItems: 9 }),
    team: Type.Optional(Nullable(Str(128))),
    expiresAt: Type.Optional(Nullable(DateTime)),
  },
  { additionalProperties: false },
);
export const AdminKeyRecord = Type.Object({
  id: Type.String(),
  name: Type.String(),
  permissions: Type.Array(AdminPermission),
  team: Nullable(Type.String()),
  status: KeyStatus,
  start: Type.String(),
  end: Type.String(),
  expiresAt: Nullable(Type.String()),
  createdAt: Type.String(),
  createdBy: Nullable(Type.String()),
  lastUsedAt: Nullable(Type.String()),
  disabledAt: Nullable(Type.String()),
});
export const AdminKeyWithSecret = Type.Object({ key: Type.String(), record: AdminKeyRecord });
export const AdminKeyList = Type.Object({
  items: Type.Array(AdminKeyRecord),
  nextCursor: Nullable(Type.String()),
});

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  actor: Nullable(Type.String()),
  actorInfo: Type.Union(
    [
      Type.Object({ type: Type.Literal('admin_key'), id: Type.String(), name: Type.String() }),
      Type.Object({ type: Type.Literal('member'), id: Type.String(), email: Type.String() }),
      Type.Null(),
    ],
    {
      description:
        'who acted: an admin key by name, or the person (member) by email; null for the system or the identity provider',
    },
  ),
  action: Type.String(),
  target: Nullable(Type.String()),
  before: Type.Unknown(),
  after: Type.Unknown(),
  ip: Nullable(Type.String()),
  hash: Type.String(),
});
export const AuditQuery = Type.Object(
  {
    action: Type.Optional(Str(64)),
    actor: Type.Optional(Str(64)),
    target: Type.Optional(Str(64)),
    from: Type.Optional(DateTime),
    to: Type.Optional(DateTime),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
  },
  { additionalProperties: false },
);

export { PERMISSION_PATTERN };

/** Roles (docs/roles.md). */
export const RoleName = Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,63}$', maxLength: 64 });
export const Role = Type.Object({
  name: Type.String(),
  description: Nullable(Type.String()),
  permissions: Type.Array(Type.String()),
  createdAt: Type.String(),
  createdBy: Nullable(Type.String()),
  updatedAt: Type.String(),
  version: Type.Integer(),
  keys: Type.Integer({ description: 'keys (not deleted) that hold the role, across every team' }),
});
export const RoleCreate = Type.Object(
  {
    name: RoleName,
    permissions: Type.Array(Permission, { maxItems: 200 }),
    description: Type.Optional(Nullable(Str(500))),
  },
  { additionalProperties: false },
);
export const RolePatch = Type.Object(
  {
    permissions: Type.Optional(Type.Array(Permission, { maxItems: 200 })),
    description: Type.Optional(Nullable(Str(500))),
  },
  { additionalProperties: false },
);
export const RoleList = Type.Object({ items: Type.Array(Role) });
export const RoleParams = Type.Object(
  { name: Type.String({ maxLength: 64 }) },
  { additionalProperties: false },
);

/** One key to import: a key record plus its plaintext (`key`) or its SHA-256 (`hash`). */
export const KeyImportItem = Type.Object(
  {
    name: Name,
    environment: Environment,
    ...mutable,
    key: Type.Optional(
      Type.String({ minLength: 1, maxLength: 512, description: 'the existing key, as plaintext' }),
    ),
    hash: Type.Optional(
      Type.Object(
        {
          algorithm: OneOf(['sha256'] as const),
          encoding: OneOf(['hex', 'base64'] as const),
          value: Type.String({ minLength: 1, maxLength: 100 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export const KeyImport = Type.Object(
  {
    keys: Type.Array(Type.Unknown({ description: 'a KeyImportItem (each checked on its own)' }), {
      minItems: 1,
      maxItems: 1000,
    }),
  },
  { additionalProperties: false },
);
export const KeyImportResult = Type.Object({
  imported: Type.Integer(),
  refused: Type.Integer(),
  items: Type.Array(
    Type.Object({
      index: Type.Integer(),
      status: OneOf(['imported', 'refused'] as const),
      id: Type.Optional(Type.String()),
      name: Type.Optional(Type.String()),
      code: Type.Optional(Type.String()),
      detail: Type.Optional(Type.String()),
    }),
  ),
});

// Members (issue 23): people who sign in to the console, each with a role.
export const MemberRole = Type.Union(
  [Type.Literal('owner'), Type.Literal('admin'), Type.Literal('operator'), Type.Literal('auditor')],
  {
    description:
      'owner: `*` (global only); admin: admin:manage, keys:*, logs:read, audit:read, policy:write; operator: keys:read, keys:write, keys:rotate, logs:read; auditor: keys:read, logs:read, audit:read',
  },
);
const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' });
export const MemberRecord = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Nullable(Type.String()),
  role: MemberRole,
  team: Nullable(Type.String()),
  permissions: Type.Array(AdminPermission),
  source: Type.Union([Type.Literal('manual'), Type.Literal('sso')]),
  createdAt: Type.String(),
  createdBy: Nullable(Type.String()),
  updatedAt: Type.String(),
  lastSignInAt: Nullable(Type.String()),
});
export const MemberCreate = Type.Object(
  {
    email: Email,
    name: Type.Optional(Nullable(Str(128))),
    role: MemberRole,
    team: Type.Optional(Nullable(Str(128))),
  },
  { additionalProperties: false },
);
export const MemberPatch = Type.Object(
  {
    name: Type.Optional(Nullable(Str(128))),
    role: Type.Optional(MemberRole),
    team: Type.Optional(Nullable(Str(128))),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const MemberList = Type.Object({
  items: Type.Array(MemberRecord),
  nextCursor: Nullable(Type.String()),
});
