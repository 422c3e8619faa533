// Drives Chromium through the pages of a running `chatvault ui` and checks what a reader sees:
// every page loads cleanly and passes axe-core, the search box finds the expected messages in
// order and links into their context, a thread opens in place, a day without its archive shows
// as missing in the calendar (also when only its manifest is left), months sit by weekday and a
// day's cell leads to its channels and their messages, a job's archive pages reach every
// archive, hostile message texts stay text, a captured image renders under the page's CSP, and a
// token keeps strangers out.
//
//   node tests/browser/ui.mjs SPEC.json
//
// SPEC, which tests/it/ui_browser.rs writes from the emulator's truth:
//   base_url         the server, http://127.0.0.1:PORT
//   screenshots_dir  where jobs.png, channel.png and search.png go
//   pages            paths every one of which must load cleanly
//   search           {query, expected_ids}: the hits' ids in page order
//   thread           {cid, day, parent_id, reply_ids}: a parent and its replies on that day
//   missing          {job, day}: a calendar day whose archive is gone
//   lost             {job, day, key}: a calendar day whose archive object is gone, its manifest
//                    left
//   day_channels     {job, day, cids}: a calendar day and the channels its archives hold
//   archives         {job, keys}: every archive of the job, newest window first
//   hostile          [{cid, day, id, text}]: messages whose text must be shown exactly
//   image            {cid, day, id, sha256}: a message whose attachment is a captured PNG
//   auth             {base_url, token} (optional): a server started with that token
// Every check runs even when an earlier one failed and prints one line (and its problems); the
// exit code is 0 only when all passed. Chromium comes from CHATVAULT_CHROMIUM (scripts/test sets
// it) or /usr/bin/chromium.
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { chromium } from 'playwright-core';

// Short: an element that is not there should fail its check at once, not hang the suite.
const TIMEOUT_MS = 5000;
const NAVIGATION_TIMEOUT_MS = 15000;
const VIEWPORT = { width: 1280, height: 900 };
// Keeps Chromium off the network: no updates, sync, field trials or proxies, only the server
// under test. Playwright gives every launch a fresh temporary profile (--user-data-dir) itself
// and refuses that flag here.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-proxy-server',
];

if (process.argv.length !== 3) {
  console.error('usage: node tests/browser/ui.mjs SPEC.json');
  process.exit(2);
}
const spec = JSON.parse(await readFile(process.argv[2], 'utf8'));
for (const field of ['base_url', 'screenshots_dir', 'pages', 'search', 'thread', 'missing', 'lost', 'day_channels', 'archives', 'hostile', 'image']) {
  if (spec[field] === undefined) {
    console.error(`${process.argv[2]}: the spec has no \`${field}\``);
    process.exit(2);
  }
}
const axeSource = await readFile(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

/** A CSS attribute selector matching `value` exactly, whatever characters it holds. */
const attr = (name, value) => `[${name}="${String(value).replace(/["\\]/g, '\\$&')}"]`;
const message = (id) => `article${attr('data-id', id)}`;
const channelPath = (cid, day) => `/channels/${encodeURIComponent(cid)}?day=${encodeURIComponent(day)}`;
const url = (relative, base = spec.base_url) => new URL(relative, base).href;

/** At most 200 characters of `text` (Chromium's CSP reports run to 500). */
const brief = (text) => (text.length > 200 ? `${text.slice(0, 199)}…` : text);

/** A failed expectation; the check's line names it. */
class CheckFailed extends Error {}
const expect = (ok, what) => {
  if (!ok) throw new CheckFailed(what);
};

/** Whether `selector` is on the page, or why not (the message names it). */
async function present(page, selector, check) {
  const count = await page.locator(selector).count();
  expect(count > 0, `${check}: no \`${selector}\` on ${page.url()}`);
  return page.locator(selector).first();
}

async function visible(page, selector, check) {
  const element = await present(page, selector, check);
  expect(await element.isVisible(), `${check}: \`${selector}\` is not visible on ${page.url()}`);
}

/** Goes to `relative`, expecting `status`; returns the response. */
async function open(page, relative, status = 200, base = spec.base_url) {
  const response = await page.goto(url(relative, base), { waitUntil: 'load' });
  expect(response !== null, `${relative}: no response`);
  expect(
    response.status() === status,
    `${relative}: HTTP ${response.status()}, expected ${status}`,
  );
  return response;
}

/** Problems found by all checks so far. */
let failures = 0;

async function check(name, body) {
  const problems = [];
  let summary = '';
  try {
    summary = (await body(problems)) ?? '';
  } catch (error) {
    // Playwright's messages say what failed (with a call log); a bug of this script needs its
    // stack.
    const driverBug = error instanceof TypeError || error instanceof ReferenceError;
    const text = driverBug ? String(error.stack) : (error.message ?? String(error));
    problems.push(text.replace(/\x1b\[[0-9;]*m/g, ''));
  }
  if (problems.length === 0) {
    console.log(`ok   ${name}${summary ? `: ${summary}` : ''}`);
  } else {
    console.log(`FAIL ${name}`);
    for (const problem of problems) {
      console.log(`     ${problem.replaceAll('\n', '\n     ')}`);
      failures += 1;
    }
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHATVAULT_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS,
});

/** A fresh context and page; `events` collects its console errors, page errors and dialogs. */
async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  const events = [];
  page.on('console', (m) => {
    if (m.type() === 'error') events.push(`console error: ${brief(m.text())} (${m.location().url})`);
  });
  page.on('pageerror', (e) => events.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => {
    events.push(`a dialog opened (${d.type()}): ${JSON.stringify(d.message())}`);
    await d.dismiss().catch(() => {});
  });
  return { context, page, events };
}

const { page, events } = await newPage();

try {
  await check('a. pages load, with a CSP, no errors and no serious axe violations', async (problems) => {
    for (const relative of spec.pages) {
      events.length = 0;
      let response;
      try {
        response = await open(page, relative);
      } catch (error) {
        problems.push(error.message);
        continue;
      }
      if (!response.headers()['content-security-policy']) {
        problems.push(`${relative}: no Content-Security-Policy header`);
      }
      // Through the DevTools protocol, which the page's CSP does not govern, so the CSP that
      // forbids every script stays on while axe runs.
      await page.evaluate(axeSource);
      const results = await page.evaluate(() =>
        window.axe.run(document, { resultTypes: ['violations'] }).then((r) =>
          r.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
          })),
        ),
      );
      for (const v of results.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
        problems.push(`${relative}: axe ${v.id} (${v.impact}): ${v.help}; at ${v.targets.join(', ')}`);
      }
      problems.push(...events.map((e) => `${relative}: ${e}`));
    }
    return `${spec.pages.length} pages`;
  });

  await check('b. search typed into the box', async () => {
    const { query, expected_ids: expected } = spec.search;
    await open(page, '/');
    await present(page, '#q', 'search box');
    await page.fill('#q', query);
    await page.press('#q', 'Enter');
    await page.waitForURL(
      (u) => u.pathname === '/search' && u.searchParams.get('q') === query,
    ).catch(() => {
      throw new CheckFailed(`Enter in #q led to ${page.url()}, not /search?q=${encodeURIComponent(query)}`);
    });
    const ids = await page.locator('li.hit').evaluateAll((hits) => hits.map((h) => h.dataset.id));
    expect(
      JSON.stringify(ids) === JSON.stringify(expected),
      `\`li.hit\` data-ids, in page order:\n  got      ${JSON.stringify(ids)}\n  expected ${JSON.stringify(expected)}`,
    );
    expect(ids.length > 0, 'the spec expects no hits: nothing to follow');
    const link = await present(page, 'li.hit a.context', 'the first hit');
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/channels/')), link.click()]).catch(
      (error) => {
        throw new CheckFailed(`the first hit's a.context did not lead to a channel page (${page.url()}): ${error.message}`);
      },
    );
    await visible(page, message(ids[0]), 'the first hit in its context');
    return `${ids.length} hits in order; the first shown in context at ${new URL(page.url()).pathname}`;
  });

  await check('c. a thread opens in place', async () => {
    const { cid, day, parent_id: parent, reply_ids: replies } = spec.thread;
    expect(replies.length > 0, 'the spec names no replies');
    await open(page, channelPath(cid, day));
    const summary = `${message(parent)} details.thread > summary`;
    await present(page, message(parent), 'the parent');
    await present(page, `${message(parent)} details.thread`, 'the thread');
    for (const reply of replies) {
      await present(page, message(reply), 'a reply');
      expect(
        !(await page.locator(message(reply)).first().isVisible()),
        `reply \`${message(reply)}\` is visible before its thread is opened`,
      );
    }
    await (await present(page, summary, 'the thread')).click();
    for (const reply of replies) {
      await visible(page, message(reply), 'after a click on the summary');
    }
    await open(page, `${channelPath(cid, day)}&msg=${encodeURIComponent(replies[0])}`);
    await visible(page, message(replies[0]), 'opened by &msg=, without a click');
    return `${replies.length} replies under ${parent}`;
  });

  await check('d. a day without its archive is missing in the calendar', async () => {
    const { job, day } = spec.missing;
    await open(page, '/');
    const cell = `section.job${attr('data-job', job)} ${attr('data-day', day)}`;
    const status = await (await present(page, cell, 'calendar')).getAttribute('data-status');
    expect(status === 'missing', `\`${cell}\` has data-status=${JSON.stringify(status)}, expected "missing"`);
    return `${job} ${day}`;
  });

  await check('e. a day whose archive object is gone is missing, and its day page says why', async () => {
    const { job, day, key } = spec.lost;
    await open(page, '/');
    const cell = `section.job${attr('data-job', job)} td${attr('data-day', day)}`;
    const element = await present(page, cell, 'calendar');
    const [status, lost] = [await element.getAttribute('data-status'), await element.getAttribute('data-lost')];
    expect(
      status === 'missing' && lost === 'true',
      `\`${cell}\` has data-status=${JSON.stringify(status)} data-lost=${JSON.stringify(lost)}, expected "missing" and "true"`,
    );
    await Promise.all([page.waitForURL((u) => u.pathname === `/jobs/${job}/days/${day}`), element.locator('a').click()]).catch(
      (error) => {
        throw new CheckFailed(`the cell's link did not lead to /jobs/${job}/days/${day} (${page.url()}): ${error.message}`);
      },
    );
    await visible(page, `tr${attr('data-key', key)}${attr('data-lost', 'true')}`, 'the lost archive on its day');
    return `${job} ${day}: ${key}`;
  });

  await check('f. months are laid out by weekday, Monday first', async () => {
    await open(page, '/');
    const cells = await page.locator('table.month td.day').evaluateAll((tds) =>
      tds.map((td) => ({
        day: td.dataset.day,
        column: td.cellIndex,
        href: td.querySelector('a')?.getAttribute('href') ?? null,
        job: td.closest('section.job')?.dataset.job,
      })),
    );
    expect(cells.length > 0, 'no `table.month td.day` on /');
    for (const { day, column, href, job } of cells) {
      const monday = (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7;
      expect(column === monday, `${day} sits in column ${column}, its weekday is column ${monday}`);
      expect(href === `/jobs/${encodeURIComponent(job)}/days/${day}`, `${day}'s link is ${JSON.stringify(href)}`);
    }
    return `${cells.length} days in their weekday's column, each a link`;
  });

  await check("g. a calendar day leads to its channels and on to a channel's day", async () => {
    const { job, day, cids } = spec.day_channels;
    await open(page, '/');
    const link = await present(page, `section.job${attr('data-job', job)} td${attr('data-day', day)} a`, 'calendar');
    await Promise.all([page.waitForURL((u) => u.pathname === `/jobs/${job}/days/${day}`), link.click()]);
    const listed = await page.locator('tr[data-cid]').evaluateAll((rows) => rows.map((r) => r.dataset.cid));
    expect(
      JSON.stringify(listed) === JSON.stringify([...cids].sort()),
      `channels on ${day}: got ${JSON.stringify(listed)}, expected ${JSON.stringify(cids)}`,
    );
    const channel = await present(page, `tr${attr('data-cid', cids[0])} a`, 'the first channel');
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/channels/')), channel.click()]);
    const at = new URL(page.url());
    expect(at.searchParams.get('day') === day, `the channel's link led to ${page.url()}, not its ${day}`);
    await visible(page, 'article.msg', `${cids[0]} on ${day}`);
    return `${listed.length} channels on ${day}; ${cids[0]} opened`;
  });

  await check("h. a job's archive pages reach every archive, newest window first", async () => {
    const { job, keys } = spec.archives;
    await open(page, `/jobs/${encodeURIComponent(job)}/archives`);
    const seen = [];
    for (let pages = 1; ; pages += 1) {
      seen.push(...(await page.locator('tr[data-key]').evaluateAll((rows) => rows.map((r) => r.dataset.key))));
      const next = page.locator('nav.pager a[rel="next"]');
      if ((await next.count()) === 0) break;
      expect(pages < 100, 'over 100 pages of archives');
      await Promise.all([page.waitForURL((u) => u.searchParams.has('page')), next.first().click()]);
    }
    expect(
      JSON.stringify(seen) === JSON.stringify(keys),
      `archives in page order:\n  got      ${JSON.stringify(seen)}\n  expected ${JSON.stringify(keys)}`,
    );
    return `${seen.length} archives`;
  });

  await check('i. hostile texts stay text', async (problems) => {
    const byPage = new Map();
    for (const entry of spec.hostile) {
      const relative = channelPath(entry.cid, entry.day);
      byPage.set(relative, [...(byPage.get(relative) ?? []), entry]);
    }
    for (const [relative, entries] of byPage) {
      events.length = 0;
      await open(page, relative);
      for (const { id, text } of entries) {
        if ((await page.locator(message(id)).count()) === 0) {
          problems.push(`${relative}: no \`${message(id)}\` (the hostile text ${JSON.stringify(text)})`);
          continue;
        }
        // The message's own .text, not one of its replies'.
        const shown = await page.locator(message(id)).first().evaluate((article) => {
          const own = [...article.querySelectorAll('.text')].find((t) => t.closest('article') === article);
          return own ? own.textContent : null;
        });
        if (shown !== text) {
          problems.push(`${relative}: ${id}'s .text is ${JSON.stringify(shown)}, expected ${JSON.stringify(text)}`);
        }
      }
      const found = await page.evaluate(() => ({
        img: document.querySelectorAll('img[src="x"]').length,
        svg: document.querySelectorAll('svg[onload]').length,
        scripts: document.scripts.length,
        handlers: [...document.querySelectorAll('*')]
          .flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `<${e.localName} ${a.name}>`))
          .slice(0, 5),
        pwned: typeof window.__chatvault_pwned,
      }));
      if (found.img) problems.push(`${relative}: ${found.img} img[src="x"] on the page`);
      if (found.svg) problems.push(`${relative}: ${found.svg} svg[onload] on the page`);
      if (found.scripts) problems.push(`${relative}: ${found.scripts} script element(s) on the page`);
      if (found.handlers.length) problems.push(`${relative}: event handler attributes: ${found.handlers.join(', ')}`);
      if (found.pwned !== 'undefined') problems.push(`${relative}: window.__chatvault_pwned is set`);
      problems.push(...events.map((e) => `${relative}: ${e}`));
    }
    return `${spec.hostile.length} messages on ${byPage.size} page(s)`;
  });

  await check('j. a token keeps strangers out', async (problems) => {
    if (!spec.auth) return 'skipped: no auth server in the spec';
    const { base_url: base, token } = spec.auth;
    const { context, page: stranger } = await newPage();
    try {
      // Over plain HTTP first: every page is refused with a Basic challenge.
      for (const relative of spec.pages) {
        const response = await context.request.get(url(relative, base), { maxRedirects: 0 });
        const challenge = response.headers()['www-authenticate'] ?? '';
        if (response.status() !== 401 || !/^Basic /i.test(challenge)) {
          problems.push(
            `${relative} without credentials: HTTP ${response.status()}, WWW-Authenticate ${JSON.stringify(challenge)}; expected 401 and Basic`,
          );
        }
      }
      // Headless Chromium has no login prompt: it gives up on the challenge, either showing the
      // 401 or failing the navigation with ERR_INVALID_AUTH_CREDENTIALS. Neither shows a page.
      const response = await stranger.goto(url('/', base)).catch((error) => {
        expect(/ERR_INVALID_AUTH_CREDENTIALS/.test(error.message), `without credentials: ${error.message}`);
        return null;
      });
      if (response !== null) {
        expect(response.status() === 401, `/ without credentials: HTTP ${response.status()} in the browser, expected 401`);
      }
    } finally {
      await context.close();
    }
    for (const [what, password, status] of [
      ['with a wrong token', `${token}-wrong`, 401],
      ['with the token', token, 200],
    ]) {
      const { context: other, page: visitor } = await newPage({
        httpCredentials: { username: 'chatvault', password },
      });
      try {
        await open(visitor, '/', status, base).catch((error) => {
          throw new CheckFailed(`${what}: ${error.message}`);
        });
        if (status === 200) await visible(visitor, 'h1', `${what}, the jobs page`);
      } finally {
        await other.close();
      }
    }
    return `${spec.pages.length} pages refused without credentials; 401 with a wrong token, 200 with it`;
  });

  await check("k. a captured image renders inline under the page's CSP", async () => {
    const { cid, day, id, sha256 } = spec.image;
    events.length = 0;
    await open(page, `${channelPath(cid, day)}&msg=${encodeURIComponent(id)}`);
    const img = await present(
      page,
      `${message(id)} ul.attachments img${attr('src', `/media/${sha256}`)}`,
      'the captured image',
    );
    await img.scrollIntoViewIfNeeded();
    // Lazy: it loads once in view; a failed load ends the wait too (and leaves no width).
    const width = await img.evaluate(
      (el, ms) =>
        new Promise((done) => {
          const settle = () => done(el.naturalWidth);
          if (el.complete) settle();
          el.addEventListener('load', settle);
          el.addEventListener('error', settle);
          setTimeout(settle, ms);
        }),
      TIMEOUT_MS,
    );
    expect(width > 0, `/media/${sha256} did not render (naturalWidth ${width})`);
    expect(events.length === 0, `the page logged: ${events.join('; ')}`);
    return `naturalWidth ${width}`;
  });

  await check('l. screenshots', async () => {
    await mkdir(spec.screenshots_dir, { recursive: true });
    const { cid, day, parent_id: parent, reply_ids: replies } = spec.thread;
    // The jobs page whole; the others as a reader first sees them (the channel scrolled to the
    // thread of the linked reply, open), so the README's images stay a screen high.
    const reply = encodeURIComponent(replies[0] ?? '');
    const shots = [
      ['jobs.png', '/', true],
      ['channel.png', `${channelPath(cid, day)}&msg=${reply}#m-${encodeURIComponent(parent)}`, false],
      ['search.png', `/search?q=${encodeURIComponent(spec.search.query)}`, false],
    ];
    for (const [file, relative, fullPage] of shots) {
      await open(page, relative);
      await page.screenshot({ path: path.join(spec.screenshots_dir, file), fullPage });
    }
    return `${shots.map(([file]) => file).join(', ')} in ${spec.screenshots_dir}`;
  });
} finally {
  await browser.close();
}

if (failures > 0) {
  console.log(`${failures} problem(s)`);
  process.exit(1);
}
