import type { Command } from 'commander';
import { clientFrom, print, printJson, table, type GlobalOptions } from '../io.js';

/** `keywarden notifications deliveries` (docs/notifications.md): the owner mail delivery log. */
export function notificationsCommand(program: Command): void {
  const notifications = program
    .command('notifications')
    .description('owner notifications by email (docs/notifications.md)');
  notifications
    .command('deliveries')
    .description('the owner mail delivery log, newest first: status, attempts and the last error')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>')
    .action(async (f: { limit: string; cursor?: string }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const page = await clientFrom(o).listMailDeliveries({ limit: f.limit, cursor: f.cursor });
      if (o.json === true) {
        printJson(page);
        return;
      }
      if (page.items.length === 0 && f.cursor === undefined) {
        print(
          'No owner mail yet (mail is sent only when KEYWARDEN_SMTP_URL and KEYWARDEN_MAIL_FROM are set on the server).',
        );
        return;
      }
      const s = (v: unknown): string | null => (typeof v === 'string' ? v : null);
      print(
        table(
          ['ID', 'CREATED', 'OCCASION', 'TO', 'KEY', 'STATUS', 'ATTEMPTS', 'LAST ERROR'],
          page.items.map((d) => [
            s(d.id),
            s(d.createdAt),
            s(d.occasion),
            s(d.recipient),
            s(d.keyId),
            d.status === 'pending' && typeof d.nextAttemptAt === 'string'
              ? `pending (next ${d.nextAttemptAt})`
              : s(d.status),
            typeof d.attempts === 'number' ? d.attempts : null,
            s(d.lastError),
          ]),
        ),
      );
      if (page.nextCursor !== null) print(`more: --cursor ${page.nextCursor}`);
    });
}
