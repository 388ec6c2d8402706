import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The message as received, with quoted-printable soft line breaks joined. */
  raw: string;
  subject: string;
}

/**
 * A real SMTP server on loopback (smtp-server) that requires the given credentials, answers the
 * first `failures` messages with a temporary failure (451) and refuses the recipients in `refuse`
 * for good (550, as a mailbox that does not exist). No TLS: tests only.
 */
export async function smtpServer(opts: {
  user: string;
  pass: string;
  failures?: number;
  refuse?: string[];
}): Promise<{
  url: string;
  got: ReceivedMail[];
  close(): Promise<void>;
}> {
  const got: ReceivedMail[] = [];
  let failures = opts.failures ?? 0;
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === opts.user && auth.password === opts.pass) cb(null, { user: auth.username });
      else cb(new Error('invalid credentials'));
    },
    onRcptTo(address, _session, cb) {
      if (opts.refuse?.includes(address.address) === true) {
        const err = new Error('no such mailbox') as Error & { responseCode: number };
        err.responseCode = 550;
        cb(err);
        return;
      }
      cb();
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d: Buffer) => (raw += d.toString()));
      stream.on('end', () => {
        if (failures > 0) {
          failures--;
          const err = new Error('try again later') as Error & { responseCode: number };
          err.responseCode = 451;
          cb(err);
          return;
        }
        const joined = raw.replace(/=\r?\n/g, '').replace(/\r?\n[ \t]+/g, ' ');
        got.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((a) => a.address),
          raw: joined,
          subject: /^Subject: (.*)$/m.exec(joined)?.[1]?.trim() ?? '',
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://${encodeURIComponent(opts.user)}:${encodeURIComponent(opts.pass)}@127.0.0.1:${port}`,
    got,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
