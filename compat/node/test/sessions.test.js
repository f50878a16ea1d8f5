'use strict';
// Every sessions method of node-zendesk 6 against a real sessiond (see ../run.sh), with
// API-token auth and with password auth, over an account with more than 250 sessions so
// that the client's own paging runs. The tests run in order and build on each other's
// deletions; each asserts exactly what is left afterwards.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const zendesk = require('node-zendesk');

const BASE = mustEnv('SESSIOND_URL');
const ENDPOINT = `${BASE}/api/v2`;
const PASSWORD = mustEnv('PASSWORD');
const TOKENS = { admin: mustEnv('ADMIN_TOKEN'), ada: mustEnv('ADA_TOKEN'), eve: mustEnv('EVE_TOKEN') };
const EMAIL = {
  admin: 'admin@example.com',
  ada: 'ada@example.com',
  eve: 'eve@example.com',
  bob: 'bob@example.com',
  carl: 'carl@example.com',
  dave: 'dave@example.com',
};
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function mustEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run ./run.sh`);
  return v;
}

// The sign-ins run.sh made: {session, authenticity_token, cookie} per line.
const seeded = fs
  .readFileSync(mustEnv('SEED_FILE'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line));

/** A node-zendesk client pointed at sessiond; records every URL it requests. */
function makeClient(options) {
  const client = zendesk.createClient({ endpointUri: ENDPOINT, throwOriginalException: true, ...options });
  const urls = [];
  client.sessions.on('debug::request', (event) => urls.push(event.detail.uri));
  return { client, sessions: client.sessions, urls };
}

const viaToken = (who) => makeClient({ username: EMAIL[who], token: TOKENS[who] });
const viaPassword = (who) => makeClient({ username: EMAIL[who], password: PASSWORD });

/**
 * Session-cookie auth, as a Zendesk app in the browser has it: node-zendesk always builds an
 * Authorization header, so its documented transport hook swaps that for the cookie (and the
 * CSRF token that cookie writes need). Only this kind of caller has a "current session".
 */
function viaCookie(signIn) {
  return makeClient({
    username: 'unused',
    token: 'unused',
    transportConfig: {
      transportFn(uri, options) {
        const headers = { ...options.headers, Cookie: signIn.cookie, 'X-CSRF-Token': signIn.authenticity_token };
        delete headers.Authorization;
        return fetch(uri, { method: options.method, headers, body: options.body });
      },
      responseAdapter(response) {
        return {
          json: () => response.json(),
          status: response.status,
          headers: { get: (name) => response.headers.get(name) },
          statusText: response.statusText,
        };
      },
    },
  });
}

const ids = (sessions) => sessions.map((s) => s.id).sort((a, b) => a - b);
const seededIds = (userId) => ids(seeded.filter((s) => s.session.user_id === userId).map((s) => s.session));

function assertSessionShape(s, userId) {
  assert.deepEqual(Object.keys(s).sort(), ['authenticated_at', 'id', 'last_seen_at', 'url', 'user_id']);
  assert.equal(typeof s.id, 'number');
  assert.equal(s.user_id, userId);
  assert.match(s.authenticated_at, TIMESTAMP);
  assert.match(s.last_seen_at, TIMESTAMP);
  assert.equal(s.url, `${ENDPOINT}/users/${userId}/sessions/${s.id}.json`);
}

/** Asserts that a node-zendesk call fails with this status and exact error body. */
async function assertFails(promise, status, body) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.statusCode, status, `expected ${status}, got ${err.statusCode}: ${err.message}`);
    assert.deepEqual(err.result, body);
    return true;
  });
}

/** A raw request with a session cookie, outside the client: is this session still alive? */
async function cookieStatus(signIn) {
  const r = await fetch(`${ENDPOINT}/users/me/session.json`, { headers: { Cookie: signIn.cookie } });
  return r.status;
}

const NOT_FOUND = { error: 'RecordNotFound', description: 'Not found' };
const FORBIDDEN = {
  error: {
    title: 'Forbidden',
    message: 'You do not have access to this page. Please contact the account owner of this help desk for further help.',
  },
};

const user = {};
const admin = viaToken('admin');
/** Sessions the tests have deleted so far. */
const gone = new Set();
const alive = (userId) => seededIds(userId).filter((id) => !gone.has(id));

before(async () => {
  for (const who of Object.keys(EMAIL)) {
    const { result } = await viaPassword(who).client.users.me();
    assert.equal(result.email, EMAIL[who]);
    user[who] = result.id;
  }
  assert.ok(seededIds(user.ada).length > 250, 'run.sh seeds more than 250 sessions for ada');
  assert.equal(seeded.length, Object.values(user).reduce((n, id) => n + seededIds(id).length, 0));
});

test('token auth, admin: list() pages through every session of the account', async () => {
  const all = await admin.sessions.list();
  assert.deepEqual(ids(all), ids(seeded.map((s) => s.session)));
  for (const s of all) assertSessionShape(s, s.user_id);
  // The client followed next_page links until they ran out: 267 sessions at 100 a page.
  const pages = admin.urls.filter((u) => u.startsWith(`${ENDPOINT}/sessions.json`));
  assert.equal(pages.length, Math.ceil(seeded.length / 100), pages.join('\n'));
  assert.ok(pages.slice(1).every((u, i) => u.includes(`page=${i + 2}`)), pages.join('\n'));
});

test('token auth, admin: getByUserId() pages through one user with more than 250 sessions', async () => {
  const before = admin.urls.length;
  const sessions = await admin.sessions.getByUserId(user.ada);
  assert.deepEqual(ids(sessions), seededIds(user.ada));
  for (const s of sessions) assertSessionShape(s, user.ada);
  assert.equal(admin.urls.length - before, Math.ceil(seededIds(user.ada).length / 100));
});

test('token auth, admin: getByUserIdBySessionId() shows exactly that session', async () => {
  const seed = seeded.find((s) => s.session.user_id === user.eve).session;
  const { response, result } = await admin.sessions.getByUserIdBySessionId(user.eve, seed.id);
  assert.equal(response.status, 200);
  assert.deepEqual(Object.keys(result), ['session']);
  assertSessionShape(result.session, user.eve);
  assert.equal(result.session.id, seed.id);
  assert.equal(result.session.authenticated_at, seed.authenticated_at);
  // Another user's id with this session id: not that user's session.
  await assertFails(admin.sessions.getByUserIdBySessionId(user.ada, seed.id), 404, NOT_FOUND);
  await assertFails(admin.sessions.getByUserIdBySessionId(user.eve, 999999), 404, NOT_FOUND);
});

test('token auth: getMyAuthenticatedSession() is 404, an API token has no current session', async () => {
  await assertFails(admin.sessions.getMyAuthenticatedSession(), 404, NOT_FOUND);
});

test('token auth, admin: deleteByUserIdBySessionId() signs that one session out', async () => {
  const victim = seeded.filter((s) => s.session.user_id === user.ada)[7];
  assert.equal(await cookieStatus(victim), 200);
  const { response } = await admin.sessions.deleteByUserIdBySessionId(user.ada, victim.session.id);
  assert.equal(response.status, 204);
  assert.equal(await cookieStatus(victim), 401);
  await assertFails(admin.sessions.getByUserIdBySessionId(user.ada, victim.session.id), 404, NOT_FOUND);
  await assertFails(admin.sessions.deleteByUserIdBySessionId(user.ada, victim.session.id), 404, NOT_FOUND);
  gone.add(victim.session.id);
  const left = await admin.sessions.getByUserId(user.ada);
  assert.deepEqual(ids(left), alive(user.ada));
  assert.equal(left.length, seededIds(user.ada).length - 1);
});

test('password auth, agent: list() and getByUserId("me") page through only their own sessions', async () => {
  const ada = viaPassword('ada');
  const expected = alive(user.ada);
  const own = await ada.sessions.list();
  assert.equal(own.length, expected.length);
  assert.deepEqual(ids(own), expected);
  for (const s of own) assertSessionShape(s, user.ada);
  const me = await ada.sessions.getByUserId('me');
  assert.deepEqual(ids(me), expected);
  const byId = await ada.sessions.getByUserId(user.ada);
  assert.deepEqual(ids(byId), expected);
  assert.ok(ada.urls.length >= 9, `three walks of three pages each: ${ada.urls.length}`);
});

test('password auth, agent: other users are forbidden, their own sessions are not', async () => {
  const ada = viaPassword('ada');
  const eveSession = seeded.find((s) => s.session.user_id === user.eve).session;
  await assertFails(ada.sessions.getByUserId(user.eve), 403, FORBIDDEN);
  await assertFails(ada.sessions.getByUserIdBySessionId(user.eve, eveSession.id), 403, FORBIDDEN);
  await assertFails(ada.sessions.deleteByUserIdBySessionId(user.eve, eveSession.id), 403, FORBIDDEN);
  await assertFails(ada.sessions.bulkDeleteByUserId(user.eve), 403, FORBIDDEN);
  await assertFails(ada.sessions.getMyAuthenticatedSession(), 404, NOT_FOUND);
  // Nothing of eve's went.
  assert.deepEqual(ids(await admin.sessions.getByUserId(user.eve)), seededIds(user.eve));

  const own = seeded.filter((s) => s.session.user_id === user.ada && !gone.has(s.session.id))[0];
  const { result } = await ada.sessions.getByUserIdBySessionId('me', own.session.id);
  assert.equal(result.session.id, own.session.id);
  assertSessionShape(result.session, user.ada);
  const { response } = await ada.sessions.deleteByUserIdBySessionId('me', own.session.id);
  assert.equal(response.status, 204);
  assert.equal(await cookieStatus(own), 401);
  gone.add(own.session.id);
  assert.deepEqual(ids(await ada.sessions.list()), alive(user.ada));
});

test('token auth, end user: list() is their own, logMeOut() signs them out everywhere', async () => {
  const eve = viaToken('eve');
  const own = await eve.sessions.list();
  assert.deepEqual(ids(own), seededIds(user.eve));
  for (const s of own) assertSessionShape(s, user.eve);
  const cookies = seeded.filter((s) => s.session.user_id === user.eve);
  for (const c of cookies) assert.equal(await cookieStatus(c), 200);
  const { response } = await eve.sessions.logMeOut();
  assert.equal(response.status, 204);
  assert.deepEqual(await eve.sessions.list(), []);
  for (const c of cookies) assert.equal(await cookieStatus(c), 401);
  // The token itself is not a session: it still works, and logging out again is harmless.
  assert.equal((await eve.sessions.logMeOut()).response.status, 204);
  // Everyone else's sessions are untouched.
  const all = await admin.sessions.list();
  assert.deepEqual(ids(all.filter((s) => s.user_id === user.bob)), seededIds(user.bob));
  assert.deepEqual(ids(all.filter((s) => s.user_id === user.admin)), seededIds(user.admin));
  assert.deepEqual(ids(all.filter((s) => s.user_id === user.carl)), seededIds(user.carl));
});

test('token auth: bulkDeleteByUserId() by an admin; an end user may not', async () => {
  const eve = viaToken('eve');
  await assertFails(eve.sessions.bulkDeleteByUserId(user.carl), 403, FORBIDDEN);
  const cookies = seeded.filter((s) => s.session.user_id === user.carl);
  for (const c of cookies) assert.equal(await cookieStatus(c), 200);
  const { response } = await admin.sessions.bulkDeleteByUserId(user.carl);
  assert.equal(response.status, 204);
  assert.deepEqual(await admin.sessions.getByUserId(user.carl), []);
  for (const c of cookies) assert.equal(await cookieStatus(c), 401);
  await assertFails(admin.sessions.bulkDeleteByUserId(999999), 404, NOT_FOUND);
});

test('password auth, end user: logMeOut() signs them out everywhere', async () => {
  const dave = viaPassword('dave');
  assert.deepEqual(ids(await dave.sessions.list()), seededIds(user.dave));
  const { response } = await dave.sessions.logMeOut();
  assert.equal(response.status, 204);
  assert.deepEqual(await dave.sessions.list(), []);
  for (const c of seeded.filter((s) => s.session.user_id === user.dave)) assert.equal(await cookieStatus(c), 401);
});

test('password auth, admin: bulkDeleteByUserId() signs out a user with more than 250 sessions', async () => {
  const adminPw = viaPassword('admin');
  const before = await adminPw.sessions.getByUserId(user.ada);
  assert.deepEqual(ids(before), alive(user.ada));
  assert.equal(before.length, seededIds(user.ada).length - 2);
  const { response } = await adminPw.sessions.bulkDeleteByUserId(user.ada);
  assert.equal(response.status, 204);
  assert.deepEqual(await adminPw.sessions.getByUserId(user.ada), []);
  for (const c of seeded.filter((s) => s.session.user_id === user.ada).slice(0, 20)) {
    assert.equal(await cookieStatus(c), 401);
  }
  // Idempotent, and the other users keep theirs.
  assert.equal((await adminPw.sessions.bulkDeleteByUserId(user.ada)).response.status, 204);
  const all = await adminPw.sessions.list();
  assert.deepEqual(ids(all), [...seededIds(user.admin), ...seededIds(user.bob)].sort((a, b) => a - b));
  await assertFails(adminPw.sessions.bulkDeleteByUserId(999999), 404, NOT_FOUND);
});

test('session auth: getMyAuthenticatedSession() is the cookie\'s session; logMeOut() ends them all', async () => {
  const [first, second] = seeded.filter((s) => s.session.user_id === user.bob);
  const bob = viaCookie(first);
  const { response, result } = await bob.sessions.getMyAuthenticatedSession();
  assert.equal(response.status, 200);
  assert.equal(result.session.id, first.session.id);
  assertSessionShape(result.session, user.bob);
  const listed = await bob.sessions.list();
  assert.deepEqual(ids(listed), [first.session.id, second.session.id].sort((a, b) => a - b));
  const out = await bob.sessions.logMeOut();
  assert.equal(out.response.status, 204);
  assert.equal(await cookieStatus(first), 401);
  assert.equal(await cookieStatus(second), 401);
  const all = await admin.sessions.list();
  assert.deepEqual(ids(all), seededIds(user.admin));
});

test('cursor paging through the client: page[size] and links.next', async () => {
  // node-zendesk sends page[size] for the endpoints it knows to be cursor-paginated; the
  // same walk through its generic getAll() over a fresh batch of admin sessions.
  const { sessions, urls } = viaToken('admin');
  const all = await sessions.getAll(['sessions', { 'page[size]': 1, sort: '-id' }]);
  assert.deepEqual(all.map((s) => s.id), seededIds(user.admin).slice().reverse());
  assert.equal(urls.length, seededIds(user.admin).length);
  for (const url of urls.slice(1)) {
    const q = new URL(url).searchParams;
    assert.equal(q.get('page[size]'), '1', url);
    assert.equal(q.get('sort'), '-id', url);
    assert.ok(q.get('page[after]'), url);
  }
});
