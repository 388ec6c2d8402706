import type { Verifier } from '../services/verifier.js';
import type { VerifierLike } from './guard.js';

/**
 * Verification against the embedded store and cache, with no network hop, for platforms that
 * run Keywarden inside their own process: `inProcessVerifier((await createKeywarden(config)).services)`.
 */
export function inProcessVerifier(services: { verifier: Verifier }): VerifierLike {
  return {
    verify: (r) =>
      Promise.resolve(
        services.verifier.verify(
          {
            key: r.key,
            environment: r.environment,
            permissions: [...(r.permissions ?? []), ...(r.permission !== undefined ? [r.permission] : [])],
            resource: r.resource,
            ip: r.ip,
            cost: r.cost ?? 1,
          },
          { team: null, userAgent: r.userAgent ?? null },
        ),
      ),
  };
}
