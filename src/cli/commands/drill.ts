import { randomBytes } from 'node:crypto';
import { Option, type Command } from 'commander';
import { ENV_CODE, type Environment } from '../../core/keys.js';
import type { KeywardenClient } from '../../sdk/client.js';
import { clientFrom, print, printJson, Refused, table, type GlobalOptions } from '../io.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

interface DrillOptions {
  environment: Environment;
  permission: string;
  resource?: string | undefined;
  limit: number;
  team: string;
  contact: string;
}

const OTHER: Record<Environment, Environment> = {
  production: 'staging',
  staging: 'production',
  development: 'production',
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The pre-flight drill: proves, with a temporary key, that permissions, environment binding, disable/enable,
 * regeneration, rate limiting and the records all behave before a real key goes live. The key is
 * deleted at the end, whatever happened.
 */
export async function runDrill(
  c: KeywardenClient,
  o: DrillOptions,
): Promise<{ ok: boolean; keyId: string | null; checks: Check[] }> {
  const checks: Check[] = [];
  const attempts: string[] = [];
  const check = async (name: string, fn: () => Promise<string>): Promise<void> => {
    try {
      checks.push({ name, ok: true, detail: await fn() });
    } catch (err) {
      checks.push({ name, ok: false, detail: err instanceof Error ? err.message : String(err) });
    }
  };
  const expect = (code: string, want: string, what: string): string => {
    if (code !== want) throw new Error(`${what}: expected ${want}, got ${code}`);
    return `${what}: ${code}`;
  };
  const target = { permission: o.permission, ...(o.resource !== undefined ? { resource: o.resource } : {}) };
  const v = async (key: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const r = await c.verify({ key, environment: o.environment, ...target, ...extra });
    attempts.push(r.code);
    return r.code;
  };

  const name = `drill-${ENV_CODE[o.environment]}-${randomBytes(4).toString('hex')}`;
  let created: { key: string; record: { id: string } };
  try {
    created = await c.createKey({
      name,
      environment: o.environment,
      system: 'keywarden-drill',
      purpose: 'drill',
      owner: { team: o.team, contact: o.contact },
      permissions: [
        o.resource !== undefined && o.permission.split(':').length === 2
          ? `${o.permission}:${o.resource}`
          : o.permission,
      ],
      ratelimits: [{ name: 'drill', limit: o.limit, windowSeconds: 3600 }],
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
  } catch (err) {
    checks.push({
      name: '1. a fresh key authenticates and can call its target',
      ok: false,
      detail: `could not create the drill key: ${(err as Error).message}`,
    });
    return { ok: false, keyId: null, checks };
  }
  const id = created.record.id;
  let key = created.key;
  try {
    await check('1. a fresh key authenticates and can call its target', async () =>
      expect(await v(key), 'VALID', `${o.permission}${o.resource ? ` on ${o.resource}` : ''}`),
    );
    await check('2. a call outside its permissions is rejected (403)', async () =>
      expect(
        await v(key, { permission: 'keywarden-drill:forbidden' }),
        'INSUFFICIENT_PERMISSIONS',
        'keywarden-drill:forbidden',
      ),
    );
    await check('3. the key in another environment is rejected (401)', async () =>
      expect(
        await v(key, { environment: OTHER[o.environment] }),
        'ENVIRONMENT_MISMATCH',
        `as ${OTHER[o.environment]}`,
      ),
    );
    await check('4. disabled: rejected at once (401); enabled: works again', async () => {
      await c.disableKey(id, 'drill');
      const off = expect(await v(key), 'DISABLED', 'after disable');
      await c.enableKey(id, 'drill');
      return `${off}; ${expect(await v(key), 'VALID', 'after enable')}`;
    });
    await check('5. after regenerate the old secret is rejected and the new one works', async () => {
      const r = await c.regenerateKey(id, 0);
      const old = expect(await v(key), 'EXPIRED', 'old secret');
      key = r.key;
      return `${old}; ${expect(await v(key), 'VALID', 'new secret')}`;
    });
    await check('6. past its rate limit it gets 429 with a reset time', async () => {
      for (let i = 0; i <= o.limit; i++) {
        const r = await c.verify({ key, environment: o.environment, ...target });
        attempts.push(r.code);
        if (r.code === 'RATE_LIMITED') {
          const reset = r.ratelimit?.resetAt;
          if (reset === undefined || Date.parse(reset) <= Date.now() - 1000)
            throw new Error('RATE_LIMITED without a future resetAt');
          return `RATE_LIMITED after ${i} more call(s); retry after ${reset}`;
        }
      }
      throw new Error(`still not rate limited after ${o.limit + 1} calls over a limit of ${o.limit}`);
    });
    await check('7. the verification log shows every attempt and lastUsedAt moved', async () => {
      const want = [...attempts].sort().join(',');
      let got = '';
      // The server writes its log every KEYWARDEN_USAGE_FLUSH_MS, stretched under load up to
      // KEYWARDEN_USAGE_FLUSH_MAX_MS (60 s by default): wait up to 90 s, checking more rarely as
      // it goes.
      const deadline = Date.now() + 90_000;
      for (let i = 0; Date.now() < deadline; i++) {
        const logs = await c.listLogs({ keyId: id, limit: 500 });
        // A log row counts the calls of one minute and combination: each is `count` attempts. A
        // shadow row (a narrowing of the key would have refused those calls) is no attempt of its
        // own: filtered here rather than with `shadow=false`, which servers before it refuse.
        got = logs.items
          .filter((l) => l.shadow !== true)
          .flatMap((l) => Array<string>(typeof l.count === 'number' ? l.count : 1).fill(String(l.code)))
          .sort()
          .join(',');
        if (got === want) break;
        await sleep(Math.min(1000, 100 * (1 + Math.floor(i / 10))));
      }
      if (got !== want) throw new Error(`log has [${got}], the drill made [${want}]`);
      const rec = await c.getKey(id);
      if (rec.lastUsedAt === null) throw new Error('lastUsedAt did not move');
      return `${attempts.length} attempts logged; lastUsedAt ${rec.lastUsedAt}`;
    });
  } finally {
    await c.deleteKey(id).catch(() => undefined);
  }
  return { ok: checks.length === 7 && checks.every((x) => x.ok), keyId: id, checks };
}

/** `keywarden drill`: exit 0 only when all seven checks pass. */
export function drillCommand(program: Command): void {
  program
    .command('drill')
    .description(
      'prove permissions, environment, disable, regenerate, rate limit and records with a temporary key (the pre-flight drill)',
    )
    .addOption(
      new Option('--environment <env>')
        .choices(['production', 'staging', 'development'])
        .default('production'),
    )
    .option('--permission <perm>', 'the permission the key is for', 'drill:invoke')
    .option('--resource <id>', 'narrow the permission to this resource')
    .option('--limit <n>', 'rate limit of the drill key (per hour)', '5')
    .option('--team <team>', 'owner team of the drill key', 'keywarden-drill')
    .option('--contact <contact>', 'owner contact of the drill key', 'drill@localhost')
    .action(
      async (
        f: {
          environment: Environment;
          permission: string;
          resource?: string;
          limit: string;
          team: string;
          contact: string;
        },
        cmd: Command,
      ) => {
        const o = cmd.optsWithGlobals<GlobalOptions>();
        const res = await runDrill(clientFrom(o), { ...f, limit: Math.max(3, Number(f.limit) || 5) });
        if (o.json === true) printJson(res);
        else {
          print(
            table(
              ['CHECK', 'RESULT', 'DETAIL'],
              res.checks.map((x) => [x.name, x.ok ? 'PASS' : 'FAIL', x.detail]),
            ),
          );
          print(res.ok ? 'drill passed: the key behaves as configured' : 'drill FAILED');
        }
        if (!res.ok) throw new Refused('drill failed');
      },
    );
}
