import type { onRequestHookHandler } from 'fastify';
import { KeywardenError } from '../core/errors.js';

/**
 * The team boundary of a route, declared in its `config` beside its permission and checked here,
 * in the one hook chain every admin route gets (app.ts adds it to each route as it is
 * registered, right after authentication). What a route returns is then filtered by the
 * actor's team inside the services, which never see an actor that got past this check without
 * a scope that covers the route.
 *
 * - `global: true`: a deployment-wide action (the deployment policy, the whole audit chain);
 *   a team-scoped admin key gets 403.
 * - `teamParam: 'team'`: the route names a team in its path; a team-scoped admin key may only
 *   name its own (403 otherwise).
 */
export interface RouteScope {
  global?: boolean;
  teamParam?: string;
}

/** The sentence the OpenAPI description carries about a route's scope (the boundary test reads it). */
export function scopeDescription(scope: RouteScope): string {
  if (scope.global === true) return ' Global admin keys only (a team-scoped key gets 403).';
  if (scope.teamParam !== undefined)
    return ` A team-scoped admin key may only name its own team in {${scope.teamParam}}.`;
  return ' A team-scoped admin key sees and changes only its own team.';
}

/** The scope check of a route, run after authentication has set `req.actor`. */
export function checkScope(scope: RouteScope): onRequestHookHandler {
  return function checkScopeHook(req, _reply, done) {
    const actor = req.actor;
    if (actor === null || actor.team === null) {
      done();
      return;
    }
    if (scope.global === true) {
      done(
        new KeywardenError(
          'FORBIDDEN',
          `this action covers the whole deployment; this admin key is limited to team "${actor.team}" (use a global admin key)`,
        ),
      );
      return;
    }
    if (scope.teamParam !== undefined) {
      const named = (req.params as Record<string, string | undefined>)[scope.teamParam];
      if (named !== actor.team) {
        done(
          new KeywardenError(
            'FORBIDDEN',
            `this admin key is limited to team "${actor.team}" and cannot act on team "${named ?? ''}"`,
          ),
        );
        return;
      }
    }
    done();
  };
}
