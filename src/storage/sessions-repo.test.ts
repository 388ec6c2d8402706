import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDialect } from '../testing/harness.js';
import {
  endSessionByTokenHash,
  findSessionByTokenHash,
  insertSession,
  touchSession,
} from './sessions-repo.js';

const T0 = '2026-06-01T00:00:00.000Z';

describeEachDialect('console sessions repository', (t) => {
  test('a session is found by its token hash, touched and ended', async () => {
    const { db } = t.kw.storage;
    const root = await db.selectFrom('admin_keys').select('id').executeTakeFirstOrThrow();
    await insertSession(db, {
      id: 'ses_1',
      token_hash: 'tok-hash',
      csrf_hash: 'csrf-hash',
      admin_key_id: root.id,
      created_at: T0,
      last_seen_at: T0,
      expires_at: '2026-06-01T12:00:00.000Z',
      ended_at: null,
      ip: '127.0.0.1',
      user_agent: 'test',
    });
    assert.equal(await findSessionByTokenHash(db, 'other'), undefined);
    const s = await findSessionByTokenHash(db, 'tok-hash');
    assert.equal(s?.id, 'ses_1');
    assert.equal(s?.csrf_hash, 'csrf-hash');
    assert.equal(s?.ended_at, null);

    await touchSession(db, 'ses_1', '2026-06-01T00:05:00.000Z');
    assert.equal((await findSessionByTokenHash(db, 'tok-hash'))?.last_seen_at, '2026-06-01T00:05:00.000Z');

    await endSessionByTokenHash(db, 'other', '2026-06-01T00:06:00.000Z');
    assert.equal(
      (await findSessionByTokenHash(db, 'tok-hash'))?.ended_at,
      null,
      'another token ends nothing',
    );
    await endSessionByTokenHash(db, 'tok-hash', '2026-06-01T00:06:00.000Z');
    assert.equal((await findSessionByTokenHash(db, 'tok-hash'))?.ended_at, '2026-06-01T00:06:00.000Z');
  });
});
