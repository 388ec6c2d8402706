import type { KeyVerifier } from '../core/verify.js';
import type { VerifierLike } from './guard.js';

/**
 * Verification against the embedded store and cache, with no network hop, for platforms that
 * run Keywarden inside their own process: `inProcessVerifier((await createKeywarden(config)).services)`.
 */
export function inProcessVerifier(services: { verifier: KeyVerifier }): VerifierLike {
  return {
    // async: a refused input (the verifier throws synchronously) is a rejected promise like any failure.
    verify: async (r) =>
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
  };
}
