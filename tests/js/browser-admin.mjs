// Headless Chromium uses the admin page (hub/tests/api/web.rs drives it): unlock with the token,
// approve a pending application, create an invite, read stats and the audit log.
//
//   node browser-admin.mjs <hub base URL> <admin token> <applicant email> <screenshot dir>
//
// Prints one JSON line per step; exit 0 when every step passed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, token, applicant, shots] = process.argv.slice(2);
const say = (event, extra = {}) => console.log(JSON.stringify({ event, ...extra }));

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
const status = () => page.locator('#status');

try {
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => m.type() === 'error' && problems.push(`${m.text()} (${m.location().url})`));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('dialog', (d) => d.accept(d.type() === 'prompt' ? 'welcome' : undefined));
  // No admin cookies: every admin API call carries the bearer token and no Cookie header.
  const calls = [];
  page.on('request', (r) => r.url().includes('/api/v1/admin/') && calls.push(r.headers()));

  await page.goto(base + '/admin');
  await page.getByLabel('Admin token').fill(token);
  await shot('admin-locked');
  await page.getByRole('button', { name: 'Unlock' }).click();
  const row = page.locator('#members-body tr', { hasText: applicant });
  await row.getByText('pending_approval').waitFor();
  await shot('admin-members');
  say('members', { stored: await page.evaluate(() => Object.keys(sessionStorage)) });

  await page.getByRole('button', { name: 'Applications' }).click();
  const application = page.locator('#applications-body tr', { hasText: applicant });
  await application.waitFor();
  await shot('admin-applications');
  await application.getByRole('button', { name: 'Approve' }).click();
  await page.locator('#status', { hasText: 'Done.' }).waitFor();
  await page.getByRole('button', { name: 'Members' }).click();
  await row.getByText('active', { exact: true }).waitFor();
  say('approved');

  await page.getByRole('button', { name: 'Invites' }).click();
  await page.getByLabel('Uses').fill('3');
  await page.getByLabel('Note').fill('for the <b>book club</b>');
  await page.getByRole('button', { name: 'Create invite' }).click();
  await page.locator('#status', { hasText: 'Invite created' }).waitFor();
  const code = (await status().textContent()).split(': ')[1];
  await page.locator('#invites-body tr', { hasText: code }).getByText('for the <b>book club</b>').waitFor();
  await shot('admin-invites');
  say('invite', { code });

  await page.getByRole('button', { name: 'Stats' }).click();
  await page.locator('#stats dt').first().waitFor();
  await shot('admin-stats');
  await page.getByRole('button', { name: 'Audit' }).click();
  await page.locator('#audit-body tr', { hasText: 'invite.create' }).waitFor();
  await page.locator('#audit-body tr', { hasText: 'member.approve' }).waitFor();
  await shot('admin-audit');

  const bearer = calls.every((h) => h.authorization === 'Bearer ' + token && !('cookie' in h));
  say('done', { calls: calls.length, bearer, problems });
} catch (error) {
  if (page) await shot('failure').catch(() => {});
  say('error', { message: String(error), problems });
  process.exitCode = 1;
} finally {
  await browser.close();
}
