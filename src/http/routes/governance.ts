import { Type } from '@sinclair/typebox';
import { SECTIONS } from '../../core/governance.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

const Finding = Type.Object(
  { keyId: Type.String(), name: Type.String(), environment: Type.String(), reason: Type.String() },
  { additionalProperties: true },
);
const Report = Type.Object({
  generatedAt: Type.String(),
  summary: Type.Object(Object.fromEntries(SECTIONS.map((s) => [s, Type.Integer()]))),
  ...Object.fromEntries(SECTIONS.map((s) => [s, Type.Array(Finding)])),
});

/** The hygiene report and the leaked-key response (SPEC §3, §4). */
export function governanceRoutes(app: App, s: Services): void {
  app.get('/v1/reports/governance', {
    ...adminRoute('keys:read', {
      tags: ['governance'],
      summary:
        'Unowned, stale, over-privileged, test-in-production, rotation-due, shared and non-compliant keys',
      response: { 200: Report },
    }),
    handler: async (req) => s.governance.report(actorOf(req)),
  });
  app.post('/v1/leaks', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['governance'],
        summary:
          'Report leaked text (a log, a paste, a diff): every key of this deployment in it is taken out of service at once',
        body: Type.Object(
          { text: Type.String({ minLength: 1, maxLength: 1_000_000 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            found: Type.Array(
              Type.Object({
                masked: Type.String(),
                kind: Type.String(),
                keyId: Type.Union([Type.String(), Type.Null()]),
                action: Type.String(),
                line: Type.Integer(),
              }),
            ),
          }),
        },
      },
      { errors: [400] },
    ),
    handler: async (req) => s.governance.reportLeak(actorOf(req), req.body.text),
  });
}
