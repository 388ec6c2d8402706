import { pino, type Logger } from 'pino';

/**
 * Every secret-bearing field is redacted wherever it appears, as a second line of defence:
 * the code never logs a key on purpose.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'key',
  'rootKey',
  'adminKey',
  'pepper',
  '*.key',
  '*.rootKey',
  '*.adminKey',
  '*.pepper',
  'body.key',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'keywarden' } },
    destination ?? process.stdout,
  );
}
