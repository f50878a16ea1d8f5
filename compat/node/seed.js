'use strict';
// node seed.js BASE_URL PASSWORD OUT_FILE EMAIL=COUNT… — signs each user in COUNT times with
// JSON sign-ins (POST /access/login), two at a time, and appends one JSON line per new
// session to OUT_FILE: {"session":{…},"authenticity_token":"…","cookie":"name=value"}.
// Sign-ins are the only way sessions are born; each is a real Argon2id check.

const fs = require('node:fs');

async function signIn(base, email, password) {
  const r = await fetch(`${base}/access/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (r.status !== 201) throw new Error(`sign-in of ${email}: ${r.status} ${await r.text()}`);
  const cookie = (r.headers.get('set-cookie') || '').split(';')[0];
  if (!cookie.includes('=')) throw new Error(`sign-in of ${email}: no cookie`);
  return { ...(await r.json()), cookie };
}

async function main() {
  const [base, password, out, ...specs] = process.argv.slice(2);
  const jobs = [];
  for (const spec of specs) {
    const [email, count] = spec.split('=');
    for (let i = 0; i < Number(count); i++) jobs.push(email);
  }
  const lines = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const email = jobs[next++];
      lines.push(JSON.stringify(await signIn(base, email, password)));
    }
  };
  await Promise.all([worker(), worker()]);
  fs.appendFileSync(out, lines.join('\n') + '\n');
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
