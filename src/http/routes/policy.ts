import { Type } from '@sinclair/typebox';
import type { DeepPartial, Policy as PolicyDoc } from '../../core/policy.js';
import { Problem, RateLimit } from '../schemas.js';
import { actorOf, bearer, type App, type Services } from '../types.js';

const Days = Type.Integer({ minimum: 1, maximum: 36_500 });
const EnvPolicy = Type.Object(
  {
    maxLifetimeDays: Type.Union([Days, Type.Null()]),
    allowWildcards: Type.Boolean(),
    defaultRateLimit: Type.Union([RateLimit, Type.Null()]),
  },
  { additionalProperties: false },
);
const Policy = Type.Object(
  {
    naming: Type.Object(
      {
        // At most 256 characters and RE2 syntax, checked by the service (422 with the reason).
        pattern: Type.String({ minLength: 1, maxLength: 4096 }),
        denyList: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 200 }),
        requireEnvironmentSegment: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    requireOwner: Type.Boolean(),
    environments: Type.Object(
      { production: EnvPolicy, staging: EnvPolicy, development: EnvPolicy },
      { additionalProperties: false },
    ),
    rotationWarningDays: Days,
    staleAfterDays: Days,
    sharedKeyThreshold: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);
/** PUT takes any subset; what is omitted takes its default. */
const PolicyInput = Type.Partial(
  Type.Object(
    {
      ...Policy.properties,
      naming: Type.Partial(Policy.properties.naming, { additionalProperties: false }),
      environments: Type.Partial(
        Type.Object({
          production: Type.Partial(EnvPolicy, { additionalProperties: false }),
          staging: Type.Partial(EnvPolicy, { additionalProperties: false }),
          development: Type.Partial(EnvPolicy, { additionalProperties: false }),
        }),
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false },
);

/** The deployment policy (SPEC §4): naming, ownership, lifetimes, wildcards, default limits. */
export function policyRoutes(app: App, s: Services): void {
  app.get('/v1/policy', {
    config: { permission: 'keys:read' },
    schema: {
      tags: ['governance'],
      summary: 'The policy in force',
      security: bearer,
      response: { 200: Policy, 401: Problem, 403: Problem },
    },
    handler: async () => s.policies.get(),
  });
  app.put('/v1/policy', {
    config: { permission: 'policy:write' },
    schema: {
      tags: ['governance'],
      summary:
        'Replace the policy; existing keys are not changed (the governance report lists those that no longer comply)',
      security: bearer,
      body: PolicyInput,
      response: { 200: Policy, 400: Problem, 401: Problem, 403: Problem },
    },
    handler: async (req) => s.policies.put(actorOf(req), req.body as DeepPartial<PolicyDoc>),
  });
}
