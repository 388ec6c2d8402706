import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { REDACT_PATHS } from '../logger.js';
import { LazyRequestLogger, lazyChildLoggers } from './request-logger.js';

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const root = pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  return { root, lines };
}

test('a request logger makes no child until a line at an enabled level is written', () => {
  const { root, lines } = capture('info');
  let children = 0;
  const child = root.child.bind(root);
  root.child = ((...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  }) as typeof root.child;
  const log = new LazyRequestLogger(root, { reqId: 'req_1' }, {});
  log.debug({ x: 1 }, 'below the level');
  log.trace('below the level');
  assert.equal(children, 0);
  assert.equal(lines.length, 0);
  assert.equal(log.level, 'info');
  log.info({ n: 2 }, 'written');
  log.warn('also written');
  assert.equal(children, 1, 'one child, made once');
  assert.equal(lines.length, 2);
  assert.equal(lines[0]?.reqId, 'req_1');
  assert.equal(lines[0]?.msg, 'written');
  assert.equal(lines[0]?.n, 2);
  assert.equal(lines[1]?.reqId, 'req_1');
});

test('a lazily made child redacts like the root and honours a level set on it', () => {
  const { root, lines } = capture('warn');
  const log = new LazyRequestLogger(root, { reqId: 'req_2' }, {});
  log.error({ key: 'kw_live_secret', headers: { authorization: 'Bearer kw_adm_x' } }, 'failed');
  assert.equal(lines[0]?.key, '[redacted]');
  assert.deepEqual(lines[0]?.headers, { authorization: '[redacted]' });
  log.level = 'debug';
  log.debug('now enabled on this request only');
  assert.equal(lines.length, 2);
  assert.equal(root.level, 'warn');
  const grand = log.child({ step: 'x' });
  grand.warn('from a grandchild');
  assert.equal(lines[2]?.reqId, 'req_2');
  assert.equal(lines[2]?.step, 'x');
});

test('a route with its own log level gets a real child', () => {
  const { root, lines } = capture('warn');
  const factory = lazyChildLoggers(root);
  const routeLog = factory(root, { reqId: 'req_3' }, { level: 'debug' });
  assert.ok(!(routeLog instanceof LazyRequestLogger));
  routeLog.debug('route-level debug');
  assert.equal(lines[0]?.reqId, 'req_3');
  assert.ok(factory(root, { reqId: 'req_4' }, {}) instanceof LazyRequestLogger);
});
