import { Type } from '@sinclair/typebox';
import type { DeepPartial, Policy as PolicyDoc } from '../../core/policy.js';
import { RateLimit } from '../schemas.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

const Days = Type.Integer({ minimum: 1, maximum: 36_500 });
const EnvPolicy = Type.Object(
  {
    maxLifetimeDays: Type.Union([Days, Type.Null()]),
    allowWildcards: Type.Boolean(),
    defaultRateLimit: Type.Union([RateLimit, Type.Null()]),
  },
  { additionalProperties: false },
);
const Naming = {
  // At most 256 characters and RE2 syntax, checked by the service (422 with the reason).
  pattern: Type.String({ minLength: 1, maxLength: 4096 }),
  denyList: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 200 }),
  requireEnvironmentSegment: Type.Boolean(),
};
const Policy = Type.Object(
  {
    naming: Type.Object(Naming, { additionalProperties: false }),
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

/** A team's effective policy: the deployment's, tightened by the team's (same shape, plus the team's own naming pattern). */
const EffectivePolicy = Type.Object(
  {
    ...Policy.properties,
    naming: Type.Object(
      {
        ...Naming,
        teamPattern: Type.Union([Type.String(), Type.Null()], {
          description: "the team's naming pattern, which names must match as well as `pattern`",
        }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const TeamParams = Type.Object(
  { team: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);

const withTeamPattern = (p: PolicyDoc): PolicyDoc & { naming: { teamPattern: string | null } } => ({
  ...p,
  naming: { ...p.naming, teamPattern: p.naming.teamPattern ?? null },
});

/** The deployment policy (SPEC §4): naming, ownership, lifetimes, wildcards, default limits. */
export function policyRoutes(app: App, s: Services): void {
  app.get('/v1/policy', {
    ...adminRoute('keys:read', {
      tags: ['governance'],
      summary: 'The policy in force',
      response: { 200: Policy },
    }),
    handler: async () => s.policies.get(),
  });
  app.put('/v1/policy', {
    // It binds every team: only a global key may change it.
    ...adminRoute(
      'policy:write',
      {
        tags: ['governance'],
        summary:
          'Replace the policy; existing keys are not changed (the governance report lists those that no longer comply)',
        body: PolicyInput,
        response: { 200: Policy },
      },
      { scope: { global: true }, errors: [400] },
    ),
    handler: async (req) => s.policies.put(actorOf(req), req.body as DeepPartial<PolicyDoc>),
  });
  app.get('/v1/teams/:team/policy', {
    ...adminRoute(
      'keys:read',
      {
        tags: ['governance'],
        summary: "The policy a team's keys follow: the deployment policy tightened by the team's",
        params: TeamParams,
        response: { 200: EffectivePolicy },
      },
      { scope: { teamParam: 'team' }, errors: [400] },
    ),
    handler: async (req) => withTeamPattern(await s.policies.forTeam(req.params.team)),
  });
  app.put('/v1/teams/:team/policy', {
    ...adminRoute(
      'policy:write',
      {
        tags: ['governance'],
        summary:
          "Set a team's policy, which may only tighten the deployment's (a looser value is 422 POLICY_VIOLATION naming the rule); answers the effective policy",
        description:
          'Same shape as PUT /v1/policy; what is omitted follows the deployment. naming.pattern is an additional pattern names must also match; naming.denyList adds names.',
        params: TeamParams,
        body: PolicyInput,
        response: { 200: EffectivePolicy },
      },
      { scope: { teamParam: 'team' }, errors: [400, 422] },
    ),
    handler: async (req) =>
      withTeamPattern(
        await s.policies.putTeam(actorOf(req), req.params.team, req.body as DeepPartial<PolicyDoc>),
      ),
  });
}
