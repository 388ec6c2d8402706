import { loadConfig } from '../config.js';
import { serve } from '../main.js';

/** Placeholder until the full CLI lands: `serve` only. */
export async function run(argv: string[]): Promise<number> {
  if (argv[2] === 'serve') {
    await serve(loadConfig(), (l) => {
      process.stdout.write(`${l}\n`);
    });
    return 0;
  }
  return 2;
}
