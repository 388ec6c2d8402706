import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import ignore, { type Ignore } from 'ignore';
import { loadConfig } from '../../config.js';
import { findKeys, gitleaksRule } from '../../core/scan.js';
import {
  clientFrom,
  print,
  printErr,
  printJson,
  Refused,
  table,
  UsageError,
  type GlobalOptions,
} from '../io.js';

export interface Finding {
  file: string;
  line: number;
  column: number;
  masked: string;
  kind: string;
}

interface Walk {
  files: string[];
  skipped: number;
}

/** Every file under `root`, honouring .gitignore files on the way down (and never entering .git). */
function walk(root: string): Walk {
  const out: Walk = { files: [], skipped: 0 };
  const visit = (dir: string, rules: { base: string; ig: Ignore }[]): void => {
    const gi = join(dir, '.gitignore');
    const here = existsSync(gi)
      ? [...rules, { base: dir, ig: ignore().add(readFileSync(gi, 'utf8')) }]
      : rules;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === '.git') continue;
      const p = join(dir, e.name);
      const ignored = here.some((r) => r.ig.ignores(relative(r.base, p) + (e.isDirectory() ? '/' : '')));
      if (ignored) {
        out.skipped++;
        continue;
      }
      if (e.isDirectory()) visit(p, here);
      else if (e.isFile()) out.files.push(p);
    }
  };
  if (statSync(root).isDirectory()) visit(root, []);
  else out.files.push(root);
  return out;
}

/** Scans files for keys of this deployment's format (checksum-filtered), skipping binaries and files over `maxBytes`. */
export function scanPaths(
  paths: string[],
  prefix: string,
  maxBytes: number,
  onProgress?: (done: number, total: number) => void,
): { findings: Finding[]; files: number; skipped: number; keys: string[] } {
  const findings: Finding[] = [];
  const keys: string[] = [];
  let skipped = 0;
  const files: string[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) throw new UsageError(`no such file or directory: ${p}`);
    const w = walk(abs);
    files.push(...w.files);
    skipped += w.skipped;
  }
  files.forEach((f, i) => {
    onProgress?.(i + 1, files.length);
    if (statSync(f).size > maxBytes) {
      skipped++;
      return;
    }
    const buf = readFileSync(f);
    if (buf.subarray(0, 8192).includes(0)) {
      skipped++;
      return;
    }
    for (const k of findKeys(buf.toString('utf8'), prefix)) {
      findings.push({
        file: relative(process.cwd(), f) || f,
        line: k.line,
        column: k.column,
        masked: k.masked,
        kind: k.kind,
      });
      keys.push(k.key);
    }
  });
  return { findings, files: files.length, skipped, keys };
}

/** `keywarden scan <paths…>`: exit 1 when keys were found. */
export function scanCommand(program: Command): void {
  program
    .command('scan [paths...]')
    .description(
      'find keys of this deployment in files (checksum-filtered; respects .gitignore; skips binaries)',
    )
    .option('--max-size <bytes>', 'skip files larger than this', String(5 * 1024 * 1024))
    .option('--report', 'send the keys found to POST /v1/leaks, which disables them at once')
    .option('--gitleaks-rule', 'print a gitleaks rule for this deployment and exit')
    .action(
      async (
        paths: string[],
        f: { maxSize: string; report?: boolean; gitleaksRule?: boolean },
        cmd: Command,
      ) => {
        const o = cmd.optsWithGlobals<GlobalOptions>();
        const prefix = loadConfig().keyPrefix;
        if (f.gitleaksRule === true) {
          print(gitleaksRule(prefix));
          return;
        }
        if (paths.length === 0) throw new UsageError('give at least one file or directory to scan');
        if (!/^\d+$/.test(f.maxSize))
          throw new UsageError(`--max-size must be a number of bytes, got "${f.maxSize}"`);
        const tty = process.stderr.isTTY && o.json !== true;
        const res = scanPaths(paths, prefix, Number(f.maxSize), (done, total) => {
          if (tty && (done % 200 === 0 || done === total)) {
            const w = 30;
            const filled = Math.round((done / total) * w);
            process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${done}/${total} files`);
            if (done === total) process.stderr.write('\n');
          }
        });
        let reported: unknown = undefined;
        if (f.report === true && res.keys.length > 0) {
          reported = (await clientFrom(o).reportLeaks(res.keys.join('\n'))).found;
        }
        if (o.json === true) {
          printJson({
            findings: res.findings,
            filesScanned: res.files,
            skipped: res.skipped,
            ...(reported !== undefined ? { reported } : {}),
          });
        } else {
          if (res.findings.length > 0) {
            print(
              table(
                ['WHERE', 'KEY', 'KIND'],
                res.findings.map((x) => [`${x.file}:${x.line}:${x.column}`, x.masked, x.kind]),
              ),
            );
          }
          print(`${res.findings.length} key(s) found in ${res.files} file(s) (${res.skipped} skipped)`);
          if (Array.isArray(reported)) {
            for (const r of reported as { masked: string; action: string }[])
              print(`reported ${r.masked}: ${r.action}`);
          }
        }
        if (res.findings.length > 0) {
          if (f.report !== true && o.json !== true)
            printErr('keys were found: rotate them, or run again with --report to disable them now');
          throw new Refused('keys found');
        }
      },
    );
}
