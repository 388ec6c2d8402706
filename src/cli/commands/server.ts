import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { initStore, serve } from '../../main.js';
import { print } from '../io.js';

/** `keywarden serve` and `keywarden init` (SPEC §6 start-up contract). */
export function serverCommands(program: Command): void {
  program
    .command('serve')
    .description('run the server (initialises an empty store and prints its root key once)')
    .action(async () => {
      // The listening server keeps the process alive; SIGTERM/SIGINT shut it down gracefully.
      await serve(loadConfig(), print);
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
