import { output } from '../cli/io.js';
import { run } from '../cli/main.js';
import type { TestServer } from './harness.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Makes `t` listen on a free loopback port; answers the CLI's global options that reach it. */
export async function cliGlobals(t: TestServer): Promise<string[]> {
  await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = t.kw.app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return ['--url', `http://127.0.0.1:${port}`, '--admin-key', t.root];
}

/** Runs the CLI in process (no child process per call), capturing what it writes through `output`. */
export async function runCli(args: string[], globals: string[]): Promise<CliRun> {
  const saved = { ...output };
  let stdout = '';
  let stderr = '';
  output.out = (s) => void (stdout += s);
  output.err = (s) => void (stderr += s);
  try {
    const code = await run(['node', 'keywarden', ...args, ...globals]);
    return { code, stdout, stderr };
  } finally {
    Object.assign(output, saved);
  }
}
