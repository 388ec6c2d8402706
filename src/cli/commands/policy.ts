import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { PolicyPreview } from '../../sdk/client.js';
import { clientFrom, print, printJson, table, UsageError, type GlobalOptions } from '../io.js';

/**
 * A policy body from a JSON file: what PUT /v1/policy takes (any subset; the server checks the
 * fields). A file that cannot be read or is not one JSON object is a usage error (exit 2), said
 * before anything is sent.
 */
export function readPolicyFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new UsageError(
      `${path} is not a JSON object: a policy file holds the body of PUT /v1/policy, e.g. {"requireOwner": true}`,
    );
  return v as Record<string, unknown>;
}

/** The policy as `field  value` rows: nested objects as dotted paths, lists joined. */
function rows(v: unknown, path = ''): [string, string][] {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return Object.entries(v).flatMap(([k, x]) => rows(x, path === '' ? k : `${path}.${k}`));
  }
  const text = (x: unknown): string =>
    typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? String(x) : JSON.stringify(x);
  if (Array.isArray(v)) return [[path, v.map(text).join(', ') || '(none)']];
  return [[path, v === null || v === undefined ? '(none)' : text(v)]];
}

function showPolicy(p: Record<string, unknown>): void {
  print(table(['FIELD', 'VALUE'], rows(p)));
}

function showPreview(r: PolicyPreview, scope: string): void {
  if (r.affected === 0) {
    print(`No key of ${scope} would stop complying (${r.checked} checked).`);
    return;
  }
  for (const { rule, keys } of r.rules) {
    print(`\n${rule} (${keys.length})`);
    print(
      table(
        ['KEY', 'NAME', 'ENV', 'TEAM', 'REASON'],
        keys.map((k) => [k.keyId, k.name, k.environment, k.team, k.detail]),
      ),
    );
  }
  print(
    `\n${r.affected} of ${r.checked} keys of ${scope} would stop complying; nothing was changed (existing keys are never changed by a policy).`,
  );
}

/** `keywarden policy show|set|preview` (docs/policy-preview.md): the deployment's or a team's policy. */
export function policyCommand(program: Command): void {
  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const policy = program
    .command('policy')
    .description("the policy keys are held to at create and change: the deployment's, or a team's");

  policy
    .command('show')
    .description("the policy in force (with --team: that team's effective policy)")
    .option('--team <team>', "the team's effective policy: the deployment's tightened by the team's")
    .action(async (f: { team?: string }, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const p = f.team === undefined ? await c.getPolicy() : await c.getTeamPolicy(f.team);
      if (o.json === true) printJson(p);
      else showPolicy(p);
    });

  policy
    .command('set')
    .description(
      'replace the policy with a JSON file (what is omitted takes its default); existing keys are not changed — preview first',
    )
    .requiredOption('--file <policy.json>', 'the body of PUT /v1/policy, as JSON')
    .option('--team <team>', "set this team's policy instead (it may only tighten the deployment's)")
    .action(async (f: { file: string; team?: string }, cmd: Command) => {
      const o = g(cmd);
      const body = readPolicyFile(f.file);
      const c = clientFrom(o);
      const p = f.team === undefined ? await c.putPolicy(body) : await c.putTeamPolicy(f.team, body);
      if (o.json === true) {
        printJson(p);
        return;
      }
      print(`The policy of ${f.team === undefined ? 'the deployment' : `team ${f.team}`} is now:`);
      showPolicy(p);
      print('Existing keys were not changed: `keywarden report` lists those that no longer comply.');
    });

  policy
    .command('preview')
    .description(
      'which existing keys would stop complying with a policy file, by rule and why; changes nothing (exit 0)',
    )
    .requiredOption('--file <policy.json>', 'the policy to try, as for `policy set`')
    .option('--team <team>', "try it as this team's policy (only the team's keys are checked)")
    .action(async (f: { file: string; team?: string }, cmd: Command) => {
      const o = g(cmd);
      const body = readPolicyFile(f.file);
      const c = clientFrom(o);
      const r = f.team === undefined ? await c.previewPolicy(body) : await c.previewTeamPolicy(f.team, body);
      if (o.json === true) printJson(r);
      else showPreview(r, f.team === undefined ? 'the deployment' : `team ${f.team}`);
    });
}
