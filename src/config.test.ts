import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, SETTINGS } from './config.js';

const settings = Object.values(SETTINGS);

/** The message of the ConfigError that loadConfig throws for `env`. */
function failure(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('configuration table: defaults', () => {
  test('an empty environment gets every default from the table', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.dataDir, resolve('./data'));
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.keyPrefix, 'kw');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.redisPrefix, 'kw:');
    assert.equal(c.rateLimitOnRedisFailure, 'open');
    assert.equal(c.usageWriter, 'worker');
    assert.equal(c.trustProxy, false);
    assert.equal(c.webhookAllowPrivate, false);
    assert.equal(c.verifyEvents, null);
    assert.equal(c.bodyLimitBytes, 1024 * 1024);
    assert.deepEqual(c.edge, {
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      maxConnectionsPerIp: 256,
      authFailuresPerMinute: 30,
      metricsToken: undefined,
    });
  });

  test('every integer, boolean and enum default parses back to what the table documents', () => {
    const c = loadConfig({});
    const flat: Record<string, unknown> = { ...c, ...c.edge };
    for (const [key, s] of Object.entries(SETTINGS)) {
      if (s.type !== 'integer' && s.type !== 'boolean' && s.type !== 'enum') continue;
      assert.equal(`\`${String(flat[key])}\``, s.default, s.name);
    }
  });

  test('empty means unset, except where an empty value means something', () => {
    const c = loadConfig({ KEYWARDEN_PORT: '', KEYWARDEN_USAGE_WRITER: '', KEYWARDEN_REDIS_PREFIX: '' });
    assert.equal(c.port, 8080);
    assert.equal(c.usageWriter, 'worker');
    assert.equal(c.redisPrefix, '');
    assert.match(failure({ KEYWARDEN_KEY_PREFIX: '' }), /^KEYWARDEN_KEY_PREFIX must be 1–10/);
    assert.match(failure({ KEYWARDEN_LOG_LEVEL: '' }), /^KEYWARDEN_LOG_LEVEL must be one of fatal, /);
  });

  test('values of each kind are parsed', () => {
    const c = loadConfig({
      KEYWARDEN_PORT: '0',
      KEYWARDEN_WEBHOOK_ALLOW_PRIVATE: 'yes',
      KEYWARDEN_RATELIMIT_ON_REDIS_FAILURE: 'closed',
      KEYWARDEN_VERIFY_EVENTS: 'file:/tmp/events.jsonl',
      KEYWARDEN_DATA_DIR: 'somewhere',
      KEYWARDEN_METRICS_TOKEN: 'metrics-token-0123456789',
    });
    assert.equal(c.port, 0);
    assert.equal(c.webhookAllowPrivate, true);
    assert.equal(c.rateLimitOnRedisFailure, 'closed');
    assert.equal(c.verifyEvents, 'file:/tmp/events.jsonl');
    assert.equal(c.dataDir, resolve('somewhere'));
    assert.equal(c.edge.metricsToken, 'metrics-token-0123456789');
  });

  test('KEYWARDEN_TRUST_PROXY: false, one hop, a hop count or a CIDR list', () => {
    assert.equal(loadConfig({ KEYWARDEN_TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ KEYWARDEN_TRUST_PROXY: '0' }).trustProxy, false);
    assert.equal(loadConfig({ KEYWARDEN_TRUST_PROXY: 'true' }).trustProxy, 1);
    assert.equal(loadConfig({ KEYWARDEN_TRUST_PROXY: '3' }).trustProxy, 3);
    assert.deepEqual(loadConfig({ KEYWARDEN_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, [
      '10.0.0.0/8',
      '127.0.0.1',
    ]);
    assert.match(
      failure({ KEYWARDEN_TRUST_PROXY: '11' }),
      /^KEYWARDEN_TRUST_PROXY must be a hop count of at most 10/,
    );
    assert.match(
      failure({ KEYWARDEN_TRUST_PROXY: '10.0.0.0/8,proxy' }),
      /^KEYWARDEN_TRUST_PROXY .*"proxy" is none/,
    );
  });
});

describe('configuration table: a bad value names its variable', () => {
  test('every integer setting refuses a non-number and an out-of-range value', () => {
    for (const s of settings.filter((x) => x.type === 'integer')) {
      assert.equal(failure({ [s.name]: '12abc' }), `${s.name} must be a whole number, got "12abc"`);
      assert.match(
        failure({ [s.name]: '99999999999' }),
        new RegExp(`^${s.name} must be between \\d+ and \\d+, got`),
      );
    }
  });

  test('every boolean and enum setting refuses a value outside its list', () => {
    for (const s of settings.filter((x) => x.type === 'boolean' || x.type === 'enum')) {
      assert.match(failure({ [s.name]: 'sometimes' }), new RegExp(`^${s.name} must be .*got "sometimes"$`));
    }
    assert.equal(
      failure({ KEYWARDEN_USAGE_WRITER: 'process' }),
      'KEYWARDEN_USAGE_WRITER must be "worker" or "in-process", got "process"',
    );
  });

  test('string, URL, list and secret settings refuse a bad value', () => {
    const cases: [string, string, RegExp][] = [
      ['KEYWARDEN_KEY_PREFIX', 'Kw!', /must be 1–10 lowercase letters or digits, got "Kw!"/],
      ['KEYWARDEN_DATABASE_SCHEMA', 'Bad-Schema', /must be a lowercase SQL identifier, got "Bad-Schema"/],
      ['KEYWARDEN_REDIS_PREFIX', 'kw prefix', /may only hold letters/],
      ['KEYWARDEN_VERIFY_EVENTS', 'syslog', /must be "stdout" or "file:<path>", got "syslog"/],
      ['KEYWARDEN_DATABASE_URL', 'mysql://u:pw@db/kw', /must be a postgres:\/\/ URL/],
      ['KEYWARDEN_REDIS_URL', 'http://u:pw@cache', /must be a redis:\/\/ or rediss:\/\/ URL/],
      ['KEYWARDEN_PEPPER', 'short', /must be at least 16 characters/],
      ['KEYWARDEN_SECRET', 'short', /must be at least 32 characters/],
      ['KEYWARDEN_METRICS_TOKEN', 'has space in it 0123', /must be 16–256 printable characters/],
    ];
    for (const [name, value, rule] of cases) {
      const message = failure({ [name]: value });
      assert.ok(message.startsWith(`${name} `), message);
      assert.match(message, rule);
    }
  });

  test('URLs, secrets and tokens are never echoed in the message', () => {
    for (const s of settings.filter((x) => x.type === 'URL' || x.type === 'secret')) {
      const message = failure({ [s.name]: 'x SENTINEL' });
      assert.ok(message.startsWith(s.name), message);
      assert.ok(!message.includes('SENTINEL'), `${s.name} echoes its value: ${message}`);
    }
  });

  test('the headers timeout may not exceed the request timeout', () => {
    assert.equal(
      failure({ KEYWARDEN_REQUEST_TIMEOUT_MS: '1000', KEYWARDEN_HEADERS_TIMEOUT_MS: '2000' }),
      'KEYWARDEN_HEADERS_TIMEOUT_MS (2000) must not exceed KEYWARDEN_REQUEST_TIMEOUT_MS (1000)',
    );
  });
});
