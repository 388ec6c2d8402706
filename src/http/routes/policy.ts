import { Type } from '@sinclair/typebox';
import type { DeepPartial, Policy as PolicyDoc } from '../../core/policy.js';
import { KeywardenError } from '../../core/errors.js';
import { adminAllows } from '../../core/model.js';
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

const PreviewKey = Type.Object(
  {
    keyId: Type.String(),
    name: Type.String(),
    environment: Type.Union([
      Type.Literal('production'),
      Type.Literal('staging'),
      Type.Literal('development'),
    ]),
    team: Type.Union([Type.String(), Type.Null()]),
    detail: Type.String({ description: 'why the key would break the rule' }),
  },
  { additionalProperties: false },
);
/** What a policy change would do to existing keys (nothing is changed). */
const PolicyPreview = Type.Object(
  {
    checked: Type.Integer({ description: 'keys evaluated: every key of the scope that is not deleted' }),
    affected: Type.Integer({ description: 'distinct keys that would stop complying with at least one rule' }),
    rules: Type.Array(
      Type.Object(
        {
          rule: Type.String({ description: 'the policy rule, as in POLICY_VIOLATION details' }),
          keys: Type.Array(PreviewKey),
        },
        { additionalProperties: false },
      ),
      { description: 'per rule that some key complies with today and would not then, the keys and why' },
    ),
  },
  { additionalProperties: false },
);

/** A preview lists keys: besides policy:write (the route's permission) it needs keys:read. */
function needsKeysRead(req: Parameters<typeof actorOf>[0]): void {
  if (!adminAllows(actorOf(req), 'keys:read'))
    throw new KeywardenError(
      'FORBIDDEN',
      'this admin key lacks the "keys:read" permission (a preview lists the keys a policy would affect)',
    );
}

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
  app.post('/v1/policy/preview', {
    ...adminRoute(
      'policy:write',
      {
        tags: ['governance'],
        summary:
          'Preview a policy: which existing keys would stop complying with PUT /v1/policy of this body, by rule (nothing is changed)',
        description:
          'Same body as PUT /v1/policy and the same refusals (400, 422). Also needs `keys:read`. A key already breaking a rule is not listed for it again.',
        body: PolicyInput,
        response: { 200: PolicyPreview },
      },
      { scope: { global: true }, errors: [400, 422] },
    ),
    handler: async (req) => {
      needsKeysRead(req);
      return s.policies.preview(req.body);
    },
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
  app.post('/v1/teams/:team/policy/preview', {
    ...adminRoute(
      'policy:write',
      {
        tags: ['governance'],
        summary:
          "Preview a team policy: which of the team's keys would stop complying with PUT /v1/teams/{team}/policy of this body, by rule (nothing is changed)",
        description:
          'Same body as PUT /v1/teams/{team}/policy and the same refusals (a looser value is 422 POLICY_VIOLATION). Also needs `keys:read`.',
        params: TeamParams,
        body: PolicyInput,
        response: { 200: PolicyPreview },
      },
      { scope: { teamParam: 'team' }, errors: [400, 422] },
    ),
    handler: async (req) => {
      needsKeysRead(req);
      return s.policies.previewTeam(req.params.team, req.body);
    },
  });
}
