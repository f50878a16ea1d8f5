// The sessiond web pages in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Started by run.sh, which gives us a fresh server and its users:
//   BASE_URL, ARTIFACTS, PASSWORD, ADMIN_EMAIL, USER_EMAIL, HOSTILE_EMAIL, DEVICES_EMAIL
// The server trusts 127.0.0.1 as a proxy, so a context's X-Forwarded-For is its address.
// Each test opens its own browser contexts (separate cookie jars = separate devices).
// Prints "ok - …" / "not ok - …" per test and a last line "N passed, M failed".

import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this suite through run.sh)`);
  return v;
};
const BASE_URL = env('BASE_URL');
const ARTIFACTS = env('ARTIFACTS');
const PASSWORD = env('PASSWORD');
const ADMIN_EMAIL = env('ADMIN_EMAIL');
const USER_EMAIL = env('USER_EMAIL');
const HOSTILE_EMAIL = env('HOSTILE_EMAIL');
const DEVICES_EMAIL = env('DEVICES_EMAIL');

// Real-world user agents, so the pages show what people would see.
const DESKTOP_UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const PHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const FIREFOX_UA = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const HOSTILE_UA = '"><script>alert(2)</script><img src=x onerror=alert(3)>';

let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
} catch (err) {
  console.log(`not ok - launching ${process.env.CHROMIUM || '/usr/bin/chromium'}`);
  console.log(String(err?.stack || err).replace(/^/gm, '    '));
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// Problems any page reports: CSP violations, script errors, dialogs (an alert() would mean
// an injected script ran). Checked after every test.
let problems = [];
const contexts = [];

/** A new "device": its own cookie jar, user agent and screen. */
async function device({ ua = DESKTOP_UA, phone = false, ip = null } = {}) {
  const context = await browser.newContext({
    extraHTTPHeaders: ip ? { 'X-Forwarded-For': ip } : {},
    baseURL: BASE_URL,
    userAgent: ua,
    viewport: phone ? { width: 390, height: 844 } : { width: 1100, height: 800 },
    deviceScaleFactor: phone ? 2 : 1,
    isMobile: phone,
    hasTouch: phone,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  contexts.push(context);
  const page = await context.newPage();
  page.on('console', (msg) => {
    // A 401/403 page is "a failed resource load" to the console; those statuses are checked
    // by the tests themselves. Anything else (a CSP refusal above all) is a problem.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource: the server responded')) {
      problems.push(`console error on ${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`a dialog opened on ${page.url()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function pathOf(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/** Signs in through the form from wherever the page is (the sign-in page). */
async function fillSignIn(page, email, password) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signIn(page, email, password = PASSWORD) {
  await page.goto('/access/login?return_to=%2Fsessions');
  await fillSignIn(page, email, password);
  await page.waitForURL('**/sessions');
}

/** The session items of a list page, as { id, text, current }. */
async function items(page) {
  return page.locator('ul.sessions > li').evaluateAll((lis) =>
    lis.map((li) => ({
      id: Number(li.dataset.sessionId),
      text: li.innerText,
      current: li.getAttribute('aria-current') === 'true',
    })),
  );
}

async function currentSessionId(page) {
  await page.goto('/sessions');
  const mine = (await items(page)).find((i) => i.current);
  assert.ok(mine, 'the current session is marked');
  return mine.id;
}

async function assertBouncedToSignIn(page, returnTo) {
  const u = new URL(page.url());
  assert.equal(u.pathname, '/access/login', `expected the sign-in page, got ${page.url()}`);
  if (returnTo) assert.equal(u.searchParams.get('return_to'), returnTo);
  await assert.doesNotReject(page.getByRole('heading', { name: 'Sign in' }).waitFor());
}

/** Nothing on the page is wider than the screen (no sideways scrolling on a phone). */
async function assertFitsScreen(page) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `page is ${scroll}px wide on a ${width}px screen`);
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('an unauthenticated visit goes to the sign-in form, which comes back after signing in', async () => {
  const page = await device();
  const response = await page.goto('/sessions');
  await assertBouncedToSignIn(page, '/sessions');
  assert.equal(response.headers()['cache-control'], 'no-store');
  assert.match(response.headers()['content-security-policy'], /default-src 'none'/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'email', 'ready to type the email');
  await shot(page, '01-sign-in');
  await fillSignIn(page, USER_EMAIL, PASSWORD);
  await page.waitForURL('**/sessions');
  await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
  // Keyboard users: the first Tab reaches "Skip to content", which leads to the main part.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(new URL(page.url()).hash, '#main');
  const list = await items(page);
  assert.equal(list.filter((i) => i.current).length, 1, 'exactly one "this device"');
  assert.match(list.find((i) => i.current).text, /This device/);
});

test('a wrong password shows the error and keeps the email', async () => {
  const page = await device();
  await page.goto('/access/login');
  await page.getByLabel('Email').fill(USER_EMAIL);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.innerText(), 'That email and password did not match an active account.');
  assert.equal(await page.getByLabel('Email').inputValue(), USER_EMAIL, 'the email is kept');
  assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not');
  assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'password', 'ready to type the password again');
  assert.equal(new URL(page.url()).pathname, '/access/login');
  await shot(page, '02-sign-in-wrong-password');
  // The right password from here works.
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  await page.getByRole('heading', { name: 'Signed in' }).waitFor();
});

test('two devices see both sessions; signing the other out bounces it on its next click', async () => {
  // Documentation addresses (RFC 5737), sent through the "proxy".
  const laptop = await device({ ua: DESKTOP_UA, ip: '198.51.100.23' });
  const phone = await device({ ua: PHONE_UA, phone: true, ip: '192.0.2.7, 203.0.113.54' });
  await signIn(laptop, DEVICES_EMAIL);
  await signIn(phone, DEVICES_EMAIL);
  const phoneId = await currentSessionId(phone);
  const laptopId = await currentSessionId(laptop);

  await laptop.reload();
  const list = await items(laptop);
  assert.deepEqual(list.map((i) => i.id), [phoneId, laptopId], 'both sessions, newest first');
  const phoneItem = list.find((i) => i.id === phoneId);
  const laptopItem = list.find((i) => i.id === laptopId);
  assert.match(phoneItem.text, /Safari 17 on iOS 17\.5/);
  assert.match(laptopItem.text, /Chrome 126 on macOS/);
  assert.match(laptopItem.text, /This device/);
  assert.doesNotMatch(phoneItem.text, /This device/);
  // The address the proxy saw (the rightmost untrusted hop), not what the client claimed.
  assert.match(phoneItem.text, /203\.0\.113\.54/);
  assert.doesNotMatch(phoneItem.text, /192\.0\.2\.7/);
  assert.match(laptopItem.text, /198\.51\.100\.23/);
  // Last seen: approximate text, the exact UTC time on hover (title).
  const seen = laptop.locator(`#session-${phoneId} dd time[title]`);
  assert.match(await seen.innerText(), /just now|minute/);
  assert.match(await seen.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  await shot(laptop, '03-sessions-desktop');

  await phone.goto('/sessions');
  await assertFitsScreen(phone);
  await shot(phone, '04-sessions-phone');

  // The laptop signs the phone out.
  await laptop
    .locator(`#session-${phoneId}`)
    .getByRole('button', { name: /^Sign out Safari 17 on iOS 17\.5, signed in / })
    .click();
  await laptop.getByRole('status').waitFor();
  assert.equal(await laptop.getByRole('status').innerText(), 'That session is signed out.');
  assert.ok(!(await items(laptop)).some((i) => i.id === phoneId), 'gone from the list');
  await shot(laptop, '05-sessions-after-sign-out');

  // The phone's next click lands on the sign-in form.
  await phone.getByRole('link', { name: 'Your sessions' }).click();
  await assertBouncedToSignIn(phone, '/sessions');
  await shot(phone, '06-phone-bounced');
});

test('"Sign out every other session" keeps this one', async () => {
  const a = await device({ ua: FIREFOX_UA });
  const b = await device({ ua: PHONE_UA, phone: true });
  const c = await device({ ua: DESKTOP_UA });
  for (const p of [a, b, c]) await signIn(p, ADMIN_EMAIL);
  await a.goto('/sessions');
  await a.getByRole('button', { name: 'Sign out every other session' }).click();
  await a.getByRole('status').waitFor();
  assert.match(await a.getByRole('status').innerText(), /^Signed out \d+ sessions? on other devices\.$/);
  const left = await items(a);
  assert.equal(left.length, 1);
  assert.ok(left[0].current);
  for (const p of [b, c]) {
    await p.reload();
    await assertBouncedToSignIn(p, '/sessions');
  }
});

test('signing out, then the back button does not show the page again', async () => {
  const page = await device();
  await signIn(page, USER_EMAIL);
  await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
  await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/access/login');
  await page.goBack();
  await page.waitForLoadState();
  await assertBouncedToSignIn(page, '/sessions');
  assert.equal(await page.getByRole('heading', { name: 'Your sessions' }).count(), 0);
});

test('an admin signs a user out from /admin/sessions', async () => {
  const user1 = await device({ ua: FIREFOX_UA });
  const user2 = await device({ ua: PHONE_UA, phone: true });
  await signIn(user1, USER_EMAIL);
  await signIn(user2, USER_EMAIL);
  const user1Id = await currentSessionId(user1);
  const user2Id = await currentSessionId(user2);

  const admin = await device({ ua: DESKTOP_UA });
  await signIn(admin, ADMIN_EMAIL);
  await admin.getByRole('link', { name: 'All sessions' }).click();
  await admin.waitForURL('**/admin/sessions');
  await admin.getByRole('heading', { name: 'All sessions' }).waitFor();
  const everyone = await items(admin);
  const everyoneIds = everyone.map((i) => i.id);
  assert.deepEqual(everyoneIds, [...everyoneIds].sort((x, y) => y - x), 'newest first');
  await shot(admin, '07-admin-sessions');

  // Filter by the user's email.
  await admin.getByLabel('Filter by email').fill(USER_EMAIL.split('@')[0].toUpperCase());
  await admin.getByRole('button', { name: 'Filter' }).click();
  await admin.waitForURL((u) => u.searchParams.has('email'));
  const filtered = await items(admin);
  assert.ok(filtered.length >= 2);
  for (const i of filtered) assert.ok(i.text.includes(USER_EMAIL), `only ${USER_EMAIL}: ${i.text}`);
  assert.ok(filtered.some((i) => i.id === user1Id) && filtered.some((i) => i.id === user2Id));
  await shot(admin, '08-admin-sessions-filtered');

  // One session…
  await admin
    .locator(`#session-${user1Id}`)
    .getByRole('button', { name: `Sign out session #${user1Id} of ${USER_EMAIL}` })
    .click();
  await admin.getByRole('status').waitFor();
  assert.equal(await admin.getByRole('status').innerText(), 'That session is signed out.');
  assert.ok(new URL(admin.url()).searchParams.has('email'), 'back on the filtered list');
  await user1.reload();
  await assertBouncedToSignIn(user1, '/sessions');
  await user2.reload();
  await user2.getByRole('heading', { name: 'Your sessions' }).waitFor();

  // …then all of the user's.
  await admin
    .locator(`#session-${user2Id}`)
    .getByRole('button', { name: `Sign out all of ${USER_EMAIL}’s sessions` })
    .click();
  await admin.getByRole('status').waitFor();
  assert.match(await admin.getByRole('status').innerText(), /^Signed out \d+ sessions? of that person\.$/);
  assert.equal((await items(admin)).length, 0);
  await shot(admin, '09-admin-after-sign-out');
  await user2.getByRole('link', { name: 'Your sessions' }).click();
  await assertBouncedToSignIn(user2, '/sessions');
});

test('a non-admin gets a 403 page on /admin/sessions', async () => {
  const page = await device();
  await signIn(page, USER_EMAIL);
  assert.equal(await page.getByRole('link', { name: 'All sessions' }).count(), 0, 'no link to it');
  const response = await page.goto('/admin/sessions');
  assert.equal(response.status(), 403);
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
  await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).waitFor();
  await shot(page, '10-admin-forbidden');
});

test('a user named <script>…</script> with a hostile user agent renders inert', async () => {
  const page = await device({ ua: HOSTILE_UA });
  await signIn(page, HOSTILE_EMAIL);
  await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
  assert.equal(await page.locator('script').count(), 0, 'no script element on the page');
  assert.equal(await page.locator('img').count(), 0);
  assert.equal(await page.locator('header.site strong').innerText(), '<script>alert(1)</script>');
  await page.locator('details summary').first().click();
  assert.equal(await page.locator('details code').first().innerText(), HOSTILE_UA);
  await shot(page, '11-hostile-user');

  const admin = await device();
  await signIn(admin, ADMIN_EMAIL);
  await admin.goto(`/admin/sessions?email=${encodeURIComponent(HOSTILE_EMAIL)}`);
  await admin.getByRole('heading', { name: '<script>alert(1)</script>' }).first().waitFor();
  assert.equal(await admin.locator('script').count(), 0);
  await admin.goto(`/admin/sessions?email=${encodeURIComponent('"><script>alert(5)</script>')}`);
  assert.equal(await admin.locator('script').count(), 0);
  assert.equal(await admin.getByLabel('Filter by email').inputValue(), '"><script>alert(5)</script>');
  // Any alert() that ran would have been recorded as a problem.
});

let passed = 0;
let failed = 0;
for (const { name, fn } of tests) {
  problems = [];
  try {
    await fn();
    assert.deepEqual(problems, [], 'the pages reported problems');
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`not ok - ${name}`);
    console.log(String(err?.stack || err).replace(/^/gm, '    '));
    for (const p of problems) console.log(`    problem: ${p}`);
  } finally {
    for (const c of contexts.splice(0)) await c.close().catch(() => {});
  }
}
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
