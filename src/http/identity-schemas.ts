import { Type } from '@sinclair/typebox';
import {
  Credits,
  Cursor,
  Limit,
  Metadata,
  Nullable,
  Owner,
  OwnerInput,
  PageOf,
  RateLimit,
  Str,
} from './schemas.js';

/**
 * Identities' request and response schemas (issue 22; docs/identities.md), beside the key
 * schemas they reuse. Named in the OpenAPI document as Identity, IdentityCreate, IdentityPatch.
 */
const fields = {
  name: Type.Optional(Nullable(Str(256))),
  owner: Type.Optional(Nullable(OwnerInput)),
  ratelimits: Type.Optional(Type.Array(RateLimit, { maxItems: 10 })),
  credits: Type.Optional(Nullable(Credits)),
  metadata: Type.Optional(Metadata),
};
const ExternalId = Str(256, { description: "the customer's id in your own systems; unique per deployment" });

export const IdentityCreate = Type.Object(
  { externalId: ExternalId, ...fields },
  { additionalProperties: false },
);
export const IdentityPatch = Type.Object(
  { externalId: Type.Optional(ExternalId), ...fields },
  { additionalProperties: false },
);
export const Identity = Type.Object({
  id: Type.String({ description: 'idn_…' }),
  externalId: Type.String(),
  name: Nullable(Type.String()),
  owner: Owner,
  ratelimits: Type.Array(RateLimit),
  credits: Nullable(Credits),
  metadata: Metadata,
  createdAt: Type.String(),
  createdBy: Nullable(Type.String()),
  updatedAt: Type.String(),
  version: Type.Integer(),
});
export const IdentityDeleted = Type.Composite([
  Identity,
  Type.Object({ unlinkedKeys: Type.Integer({ description: 'keys that were linked to it (now unlinked)' }) }),
]);
export const IdentityList = PageOf(Identity);
export const IdentityListQuery = Type.Object(
  {
    team: Type.Optional(Str(128)),
    externalId: Type.Optional(Str(256)),
    q: Type.Optional(Type.String({ maxLength: 128, description: 'substring of the externalId or the name' })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export const IdentityUsage = Type.Object({
  identityId: Type.String(),
  keys: Type.Integer({ description: 'keys linked to the identity now' }),
  days: Type.Array(Type.Object({ day: Type.String(), counts: Type.Record(Type.String(), Type.Integer()) })),
  totals: Type.Record(Type.String(), Type.Integer()),
});
