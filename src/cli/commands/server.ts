import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { initStore, serve } from '../../serve.js';
import { serveHelpText } from '../../config/docs.js';
import { print } from '../io.js';

/** `keywarden serve` and `keywarden init`: the start-up contract (an empty store gets a root key, shown once). */
export function serverCommands(program: Command): void {
  program
    .command('serve')
    .description('run the server (initialises an empty store and prints its root key once)')
    .option('--port <port>', 'port to listen on (overrides KEYWARDEN_PORT)')
    .option('--host <host>', 'address to listen on (overrides KEYWARDEN_HOST)')
    .option('--data-dir <dir>', 'the SQLite store directory (overrides KEYWARDEN_DATA_DIR)')
    .addHelpText('after', serveHelpText())
    .action(async (o: { port?: string; host?: string; dataDir?: string }) => {
      // Flags win over the environment and are validated by the same rules (a bad port names the flag's variable).
      const env = {
        ...process.env,
        ...(o.port === undefined ? {} : { KEYWARDEN_PORT: o.port }),
        ...(o.host === undefined ? {} : { KEYWARDEN_HOST: o.host }),
        ...(o.dataDir === undefined ? {} : { KEYWARDEN_DATA_DIR: o.dataDir }),
      };
      // The listening server keeps the process alive; SIGTERM/SIGINT shut it down gracefully.
      await serve(loadConfig(env), print);
    });

  program
    .command('init')
    .description('create the store and print its root admin key (once)')
    .action(async (_f: unknown, cmd: Command) => {
      // --json is the global flag: one JSON line {"rootKey", "dataDir"}.
      const o = cmd.optsWithGlobals<{ json?: boolean }>();
      const { rootKey, dataDir } = await initStore(loadConfig());
      if (o.json === true) {
        print(JSON.stringify({ rootKey, dataDir }));
        return;
      }
      print(`Initialised the Keywarden store at ${dataDir}.`);
      print(`Root admin key (permissions: *): ${rootKey}`);
      print(
        'Store it now: it is shown this once. Create narrower admin keys with `keywarden admin-keys create`.',
      );
    });
}
