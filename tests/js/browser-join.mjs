// Headless Chromium walks the join flow of the hub's web pages (hub/tests/api/web.rs drives it).
//
//   node browser-join.mjs <hub base URL> <email> <screenshot dir>
//
// A conversation over stdio: one JSON line per step on stdout; after {"event":"check_email"} the
// Rust side writes the emailed link as one line on stdin. Exit 0 when every step passed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [base, email, shots] = process.argv.slice(2);
const STEP_MS = 20_000;
const say = (event, extra = {}) => console.log(JSON.stringify({ event, ...extra }));
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function check(condition, message) {
  if (!condition) throw new Error(message);
}

mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
let page;
let step = 0;
const problems = [];
const shot = (name) => page.screenshot({ path: join(shots, `${String(++step).padStart(2, '0')}-${name}.png`), fullPage: true });

try {
  // A phone-sized window: the pages must read well there.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  // CSP violations and script errors show up as console errors.
  page.on('console', (m) => m.type() === 'error' && problems.push(`${m.text()} (${m.location().url})`));
  page.on('pageerror', (e) => problems.push(String(e)));

  await page.goto(base + '/');
  await page.getByRole('heading', { level: 1 }).waitFor();
  await shot('landing');
  await page.getByRole('main').getByRole('link', { name: 'Join', exact: true }).click();
  await page.waitForURL('**/join');
  await page.getByLabel('Email address').fill(email);
  await shot('join');
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await shot('check-email');
  say('check_email');

  const { value: link, done } = await stdin.next();
  check(!done && link.includes('/verify?token='), `expected a link on stdin, got ${link}`);
  await page.goto(link.trim());
  await page.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
  // Opening the link again must still offer the button: GET /verify does not consume the token.
  await page.reload();
  const confirm = page.locator('#confirm');
  await confirm.waitFor({ state: 'visible' });
  await shot('confirm');
  say('confirm_shown');

  await confirm.click();
  await page.getByRole('heading', { name: 'Welcome' }).waitFor();
  const verified = await page.locator('#state').getAttribute('data-state');
  await shot('welcome');
  say('verified', { state: verified });

  await page.goto(base + '/account');
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  const state = await page.locator('#state').getAttribute('data-state');
  await shot('account');

  await page.goto(base + '/admin');
  await page.getByLabel('Admin token').waitFor();
  await shot('admin');
  say('account', { state, problems });
} catch (error) {
  if (page) await shot('failure').catch(() => {});
  say('error', { message: String(error), problems });
  process.exitCode = 1;
} finally {
  await browser.close();
}
// stdin stays open until the Rust side drops it; do not wait for that.
process.exit(process.exitCode ?? 0);
