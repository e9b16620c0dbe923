// The participation page in Chromium: a citizen sends an idea and a contribution on the map, a
// moderator accepts one idea and the contribution and declines another idea with a reason, and the
// public sees the result; the portfolio shows its projects with their funding; axe-core finds no
// violation of WCAG 2.1 A/AA on the page (in English and German, on a desktop and a phone-sized
// screen) nor on the viewer's page. The server is the one the pytest wrapper
// (tests/web/test_participation_browser.py) starts and names in URBANTWIN_VIEWER_URL, with the
// administrator token in URBANTWIN_ADMIN_TOKEN.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { launch, watchContentSecurityPolicy } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
const token = process.env.URBANTWIN_ADMIN_TOKEN || '';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
let browser;

before(async () => {
  assert.ok(url && token, 'URBANTWIN_VIEWER_URL and URBANTWIN_ADMIN_TOKEN name the server and its administrator');
  browser = await launch();
  const now = Date.now();
  const procedure = {
    id: 'west-streets',
    title: 'Streets in the west',
    description: 'Where should the streets change?',
    start: new Date(now - 86400e3).toISOString(),
    end: new Date(now + 30 * 86400e3).toISOString(),
    area: { type: 'Polygon', coordinates: [[[12.3, 51.32], [12.36, 51.32], [12.36, 51.35], [12.3, 51.35], [12.3, 51.32]]] },
    questions: ['What should change here?'],
    categories: ['cycling', 'walking', 'greenery'],
    synthetic: true,
  };
  const made = await fetch(`${url}api/participation/procedures`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(procedure),
  });
  assert.ok(made.status === 201 || made.status === 409, `procedure: ${made.status}`);
  const campus = {
    id: 'sensor-workshop',
    kind: 'event',
    title: { de: 'Sensoren selbst bauen', en: 'Build your own sensor' },
    description: { de: 'Ein Feinstaubsensor zum Mitnehmen.', en: 'A particulate sensor to take home.' },
    format: 'workshop',
    ages: ['youth', 'adults'],
    experience: ['beginner'],
    start: '2027-05-20T14:00:00Z',
    end: '2027-05-20T17:00:00Z',
    place: { name: 'City library' },
    organiser: 'Digital-city department',
    synthetic: true,
  };
  const put = await fetch(`${url}api/campus/events/sensor-workshop`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(campus),
  });
  assert.equal(put.status, 200, 'campus event');
});

after(async () => {
  await browser?.close();
});

async function open(path, { width = 1280, height = 900, lang = 'en' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: lang === 'de' ? 'de-DE' : 'en-GB' });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await watchContentSecurityPolicy(page, problems);
  await page.goto(`${url}${path}#lang=${lang}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', null, { timeout: 60e3 });
  return { context, page, problems };
}

async function axe(page) {
  // Injected through the DevTools protocol: the page's Content-Security-Policy allows no inline script.
  await page.evaluate(AXE);
  const result = await page.evaluate(async (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG);
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

describe('participation in the browser', () => {
  it('shows the portfolio with its funding', async () => {
    const { page, context, problems } = await open('participate');
    try {
      assert.equal(await page.locator('[data-project]').count(), 9);
      const sparcs = await page.locator('[data-project="sparcs"]').textContent();
      assert.match(sparcs, /€23,700,000/);
      assert.match(sparcs, /about €1,200,000/);
      assert.match(await page.locator('#funding').textContent(), /Horizon 2020/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('takes a citizen’s idea and contribution through moderation to the public', async () => {
    const citizen = await open('participate');
    const { page } = citizen;
    try {
      for (const [title, text] of [
        ['Open data on school routes', 'Publish the school routes as open data so apps can show safe ways.'],
        ['A fountain on every square', 'Every square in the city should have a drinking fountain.'],
      ]) {
        await page.fill('#idea-title', title);
        await page.fill('#idea-text', text);
        await page.selectOption('#idea-category', 'data');
        await page.fill('#idea-contact', 'citizen@example.org');
        await page.click('#idea-form button[type=submit]');
        await page.waitForFunction(() => /Thank you/.test(document.getElementById('idea-status').textContent));
      }
      // A place by a click on the map, then the contribution.
      await page.waitForFunction(() => document.getElementById('procedure-map').dataset.loaded === 'true', null, { timeout: 30e3 });
      await page.locator('#procedure-map canvas').click(); // scrolled into view, clicked in the middle
      assert.notEqual(await page.inputValue('#contribution-lon'), '');
      await page.selectOption('#contribution-category', 'cycling');
      await page.fill('#contribution-text', 'A protected cycle lane is missing on this street.');
      await page.click('#contribution-form button[type=submit]');
      await page.waitForFunction(() => /Thank you/.test(document.getElementById('contribution-status').textContent));
      // Nothing is public before moderation.
      assert.match(await page.locator('#idea-list').textContent(), /No ideas published yet/);
      assert.match(await page.locator('#contribution-list').textContent(), /No contributions published yet/);
    } finally {
      await citizen.context.close();
    }

    const moderator = await open('participate');
    try {
      const m = moderator.page;
      await m.fill('#token', token);
      await m.click('#token-form button[type=submit]');
      await m.waitForSelector('#queue [data-idea]');
      assert.match(await m.locator('#moderation-status').textContent(), /3 waiting for moderation/);
      assert.match(await m.locator('#queue').textContent(), /citizen@example\.org/);
      const first = m.locator('#queue li', { hasText: 'Open data on school routes' });
      await first.locator('textarea').fill('We are looking into it with the schools.');
      await first.locator('[data-action=accept]').click();
      await m.waitForFunction(() => /Done/.test(document.getElementById('moderation-status').textContent));
      const second = m.locator('#queue li', { hasText: 'A fountain on every square' });
      await second.locator('[data-action=decline]').click();
      assert.match(await m.locator('#moderation-status').textContent(), /public reason/);
      await second.locator('input').fill('Fountains are the water company’s, not the digital department’s.');
      await second.locator('[data-action=decline]').click();
      await m.waitForFunction(() => document.querySelectorAll('#queue [data-idea]').length === 0);
      await m.locator('#queue [data-contribution] [data-action=accept]').click();
      await m.waitForFunction(() => document.querySelectorAll('#queue li').length === 0);
      assert.deepEqual(moderator.problems, []);
    } finally {
      await moderator.context.close();
    }

    const reader = await open('participate');
    try {
      const ideas = await reader.page.locator('#idea-list').textContent();
      assert.match(ideas, /Open data on school routes.*In review.*We are looking into it with the schools/s);
      assert.match(ideas, /A fountain on every square.*Declined.*Reason: Fountains are the water company/s);
      assert.doesNotMatch(ideas, /citizen@example\.org/);
      assert.match(await reader.page.locator('#contribution-list').textContent(), /A protected cycle lane is missing.*0 supporters/s);
      await reader.page.locator('#contribution-list [data-action=support]').click();
      await reader.page.waitForFunction(() => /1 supporter(?!s)/.test(document.getElementById('contribution-list').textContent));
      assert.deepEqual(reader.problems, []);
    } finally {
      await reader.context.close();
    }
  });

  it('finds campus events and exports them to iCalendar', async () => {
    const { page, context, problems } = await open('participate');
    try {
      assert.match(await page.locator('#event-sensor-workshop').textContent(), /Build your own sensor.*City library/s);
      await page.selectOption('#campus-age', 'seniors');
      await page.click('#campus-filters button[type=submit]');
      await page.waitForFunction(() => /No offers or events found/.test(document.getElementById('campus-list').textContent));
      await page.selectOption('#campus-age', 'youth');
      await page.click('#campus-filters button[type=submit]');
      await page.waitForSelector('#event-sensor-workshop');
      const href = await page.locator('#campus-ics').getAttribute('href');
      assert.match(href, /age=youth/);
      const ics = await (await fetch(new URL(href, `${url}participate`))).text();
      assert.match(ics, /BEGIN:VCALENDAR/);
      assert.match(ics, /SUMMARY:Build your own sensor/);
      const one = await page.locator('#event-sensor-workshop a', { hasText: 'Add to my calendar' }).getAttribute('href');
      assert.match(await (await fetch(new URL(one, `${url}participate`))).text(), /UID:sensor-workshop@/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('shows a closed procedure’s statistics on the page, with its results for planners', async () => {
    const closed = {
      id: 'old-squares',
      title: 'Squares last year',
      description: 'Closed already.',
      start: '2025-01-01T00:00:00Z',
      end: '2025-02-01T00:00:00Z',
      area: { type: 'Polygon', coordinates: [[[12.3, 51.32], [12.36, 51.32], [12.36, 51.35], [12.3, 51.35], [12.3, 51.32]]] },
      questions: ['What is missing?'],
      categories: ['greenery'],
      synthetic: true,
    };
    const made = await fetch(`${url}api/participation/procedures`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(closed),
    });
    assert.ok(made.status === 201 || made.status === 409, `procedure: ${made.status}`);
    const { page, context, problems } = await open('participate');
    try {
      await page.selectOption('#procedure-select', 'old-squares');
      await page.waitForSelector('#procedure-statistics table');
      const table = await page.locator('#procedure-statistics').textContent();
      assert.match(table, /Published contributions0 contributions/);
      assert.match(table, /Question: What is missing\?0/);
      assert.match(await page.locator('#procedure-results').textContent(), /Results \(CSV\)/);
      assert.equal(await page.locator('#contribution-form').isVisible(), false, 'no contributions after the window');
      assert.deepEqual(await axe(page), []);
      await page.selectOption('#procedure-select', 'west-streets');
      await page.waitForFunction(() => document.getElementById('procedure-statistics').hidden);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('the viewer passes axe-core’s WCAG 2.1 AA rules too', async () => {
    const { page, context } = await open('');
    try {
      assert.deepEqual(await axe(page), []);
    } finally {
      await context.close();
    }
  });

  it('reads in German', async () => {
    const { page, context } = await open('participate', { lang: 'de' });
    try {
      assert.equal(await page.locator('#ideas-heading').textContent(), 'Ideen');
      assert.match(await page.locator('#idea-list').textContent(), /In Prüfung/);
      assert.match(await page.locator('[data-project="sparcs"]').textContent(), /rund 1\.200\.000/);
    } finally {
      await context.close();
    }
  });

  for (const [name, size, lang] of [
    ['desktop, English', { width: 1280, height: 900 }, 'en'],
    ['phone, German', { width: 375, height: 740 }, 'de'],
  ]) {
    it(`passes axe-core's WCAG 2.1 AA rules (${name})`, async () => {
      const { page, context } = await open('participate', { ...size, lang });
      try {
        assert.deepEqual(await axe(page), []);
        // Every control is reachable with the keyboard: Tab reaches the moderation sign-in.
        let reached = false;
        for (let i = 0; i < 80 && !reached; i += 1) {
          await page.keyboard.press('Tab');
          reached = await page.evaluate(() => document.activeElement?.id === 'token');
        }
        assert.ok(reached, 'the token field is reachable with Tab');
      } finally {
        await context.close();
      }
    });
  }
});
