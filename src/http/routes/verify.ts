import { KeywardenError } from '../../core/errors.js';
import { isValidIp, quotedAddress } from '../../core/cidr.js';
import { isRequiredPermission, isResourceId } from '../../core/permissions.js';
import { VerifyRequest, VerifyResponse } from '../schemas.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

/**
 * `POST /v1/verify`: always 200 for a well-formed request; the outcome is data (SPEC §2). What the
 * route skips per request, and why: docs/hot-path.md#http-per-request.
 */
export function verifyRoute(app: App, s: Services): void {
  app.post('/v1/verify', {
    ...adminRoute(
      'keys:verify',
      {
        tags: ['verify'],
        summary: 'Is this key allowed to do this?',
        body: VerifyRequest,
        response: { 200: VerifyResponse },
      },
      { errors: [400] },
    ),
    // Not async: a cached key's answer is sent without a promise (Fastify sends a returned value).
    handler: (req) => {
      const b = req.body;
      const permissions = b.permissions ?? [];
      if (b.permission !== undefined) permissions.push(b.permission);
      permissions.forEach((p) => {
        if (!isRequiredPermission(p)) {
          throw new KeywardenError(
            'VALIDATION_FAILED',
            `"${p}" is not a permission to check: expected resource:action[:resourceId] without wildcards`,
          );
        }
      });
      if (b.resource !== undefined && !isResourceId(b.resource)) {
        throw new KeywardenError(
          'VALIDATION_FAILED',
          `resource "${b.resource}" may only hold letters, digits and _ . @ -`,
        );
      }
      if (b.ip !== undefined && !isValidIp(b.ip)) {
        throw new KeywardenError(
          'VALIDATION_FAILED',
          `ip ${quotedAddress(b.ip)} is not an IPv4 or IPv6 address`,
        );
      }
      const actor = actorOf(req);
      return s.verifier.verify(
        {
          key: b.key,
          environment: b.environment,
          permissions,
          resource: b.resource,
          ip: b.ip,
          cost: b.cost ?? 1,
        },
        { team: actor.team, userAgent: b.userAgent ?? req.headers['user-agent'] ?? null },
      );
    },
  });
}
