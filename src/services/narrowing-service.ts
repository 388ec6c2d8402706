import { KeywardenError } from '../core/errors.js';
import type { Actor } from '../core/model.js';
import { checkNarrowing, parseNarrowing, type Narrowing } from '../core/narrowing.js';
import { getKeyRow } from '../storage/keys-repo.js';
import { keysWithNarrowing, shadowRefusals, type ShadowExample } from '../storage/narrowing-repo.js';
import { takeEventMark } from '../storage/webhooks-repo.js';
import { nowIso, type ServiceContext } from './context.js';
import type { KeysService } from './keys-service.js';

/** What `GET /v1/keys/{id}/narrowing` answers. */
export interface NarrowingView extends Narrowing {
  keyId: string;
  /** Calls the narrower set would have refused so far (or in the whole period, once it ended). */
  wouldHaveRefused: number;
  /** The newest of them (log rows marked shadow). */
  examples: ShadowExample[];
}

const EXAMPLES = 20;
const DAY = 86_400_000;

/** The actor of changes the end-of-period job makes (audited as such). */
const SYSTEM: Actor = { id: 'system:narrowing', permissions: new Set(['*']), team: null, ip: null };

/** The key changed (another node finished it, or someone cancelled): this node's change is dropped. */
class Superseded extends Error {}

/**
 * Narrowing safely (docs/narrowing.md): start, show and cancel a shadow period for a narrower
 * permission set (admin API), and the job that ends periods: apply (autoApply), mark ready, or
 * tell the owner what would have been refused. The state is a column of the key's row, so the
 * verifier's cached entry carries it; its shadow decisions reach the log through the usage pipeline.
 */
export class NarrowingService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly keys: KeysService,
    private readonly opts: {
      /**
       * How long after a period's end its outcome is decided: other nodes' shadow events of the
       * last moments are still in their usage batches (a few flush intervals).
       */
      settleMs: number;
    },
  ) {}

  async start(
    actor: Actor,
    id: string,
    input: { permissions: string[]; days: number; autoApply?: boolean | undefined },
  ): Promise<NarrowingView> {
    const { row, n } = await this.current(actor, id);
    if (n !== null && n.state === 'shadow') {
      throw new KeywardenError(
        'CONFLICT',
        `key ${id} is already in a shadow period until ${n.endsAt}; cancel it first (DELETE /v1/keys/${id}/narrowing)`,
      );
    }
    let started: Narrowing | undefined;
    await this.keys.change(actor, id, 'key.narrowing.start', (before, at, _trx, now) => {
      if (before.version !== row.version)
        throw new KeywardenError('CONFLICT', `key ${id} changed meanwhile; try again`);
      if (before.status !== 'active') {
        throw new KeywardenError('CONFLICT', `key ${id} is ${before.status}: only an active key is narrowed`);
      }
      checkNarrowing(before.permissions, input.permissions, input.days);
      started = {
        permissions: [...input.permissions],
        startedAt: at,
        endsAt: new Date(now + input.days * DAY).toISOString(),
        autoApply: input.autoApply ?? false,
        state: 'shadow',
        startedBy: actor.id,
        finishedAt: null,
        refused: null,
      };
      return {
        changes: { narrowing: JSON.stringify(started) },
        extra: () => Promise.resolve(),
        auditExtra: { narrowing: started },
      };
    });
    if (started === undefined) throw new Error('narrowing was not started');
    return { keyId: id, ...started, wouldHaveRefused: 0, examples: [] };
  }

  async show(actor: Actor, id: string): Promise<NarrowingView> {
    const { n } = await this.current(actor, id);
    if (n === null) throw new KeywardenError('NOT_FOUND', `key ${id} has no narrowing`);
    const seen = await shadowRefusals(this.ctx.storage.db, id, n.startedAt, n.endsAt, EXAMPLES);
    return { keyId: id, ...n, wouldHaveRefused: seen.total, examples: seen.examples };
  }

  async cancel(actor: Actor, id: string): Promise<void> {
    const { row, n } = await this.current(actor, id);
    if (n === null) throw new KeywardenError('NOT_FOUND', `key ${id} has no narrowing`);
    await this.keys.change(actor, id, 'key.narrowing.cancel', (before) => {
      if (before.version !== row.version)
        throw new KeywardenError('CONFLICT', `key ${id} changed meanwhile; try again`);
      return { changes: { narrowing: null }, extra: () => Promise.resolve(), auditExtra: { narrowing: n } };
    });
  }

  /** The key's row and narrowing, within the actor's team (404 otherwise). */
  private async current(actor: Actor, id: string) {
    const row = await getKeyRow(this.ctx.storage.db, id);
    if (
      row === undefined ||
      row.status === 'deleted' ||
      (actor.team !== null && row.owner_team !== actor.team)
    )
      throw new KeywardenError('NOT_FOUND', `no key with id ${id}`);
    return { row, n: parseNarrowing(row.narrowing) };
  }

  /**
   * Job: ends the periods that are over (plus the settle time). Nothing refused: with autoApply
   * the narrower set becomes the key's permissions (audited `key.narrow`), otherwise the key is
   * listed under `narrowingReady`. Something refused: the key is left as it is and its owner is
   * told (`key.narrowing_refused`: webhooks and mail), once across nodes. Returns how many ended.
   */
  async finishDue(): Promise<number> {
    const now = this.ctx.clock.now();
    const { db } = this.ctx.storage;
    const due = (await keysWithNarrowing(db)).flatMap((r) => {
      const n = parseNarrowing(r.narrowing);
      return n !== null && n.state === 'shadow' && Date.parse(n.endsAt) + this.opts.settleMs <= now
        ? [{ row: r, n }]
        : [];
    });
    if (due.length === 0) return 0;
    // This node's pending shadow events belong to the periods: write them first.
    await this.ctx.usage.flush();
    let ended = 0;
    for (const { row, n } of due) {
      const seen = await shadowRefusals(db, row.id, n.startedAt, n.endsAt, 5);
      const at = nowIso(this.ctx);
      const finished: Narrowing = {
        ...n,
        state: seen.total === 0 ? 'ready' : 'refused',
        finishedAt: at,
        refused: seen.total,
      };
      const apply = seen.total === 0 && n.autoApply;
      try {
        await this.keys.change(SYSTEM, row.id, apply ? 'key.narrow' : 'key.narrowing.end', (before) => {
          if (before.version !== row.version) throw new Superseded();
          return {
            changes: apply
              ? { permissions: JSON.stringify(n.permissions), narrowing: null }
              : { narrowing: JSON.stringify(finished) },
            extra: () => Promise.resolve(),
            auditExtra: { narrowing: finished },
          };
        });
      } catch (err) {
        if (err instanceof Superseded) continue;
        throw err;
      }
      ended++;
      if (seen.total > 0 && (await takeEventMark(db, `narrowing.refused:${row.id}:${n.startedAt}`, at))) {
        this.ctx.events.emit('key.narrowing_refused', {
          keyId: row.id,
          name: row.name,
          environment: row.environment,
          permissions: n.permissions,
          startedAt: n.startedAt,
          endsAt: n.endsAt,
          wouldHaveRefused: seen.total,
          examples: seen.examples,
          team: row.owner_team,
        });
      }
    }
    return ended;
  }
}
