// The participation page's forms by keyboard alone, lines and areas on the map, and comments: a
// citizen sends an idea with the keyboard only, marks a route point after point by typed
// coordinates (Tab, typing, Enter) and an area by clicks on the map; a moderator signs in and
// publishes both with the keyboard; a citizen comments on the route twice; the moderator publishes
// one comment and declines the other with a public reason; the public sees the route, the area, the
// one comment and the reason in the declined one's place; the
// campus filter is used by keyboard too; axe-core finds no WCAG 2.1 A/AA violation with the
// drawing tools shown. The server is the one the pytest wrapper
// (tests/web/test_participation_browser.py) starts, with URBANTWIN_VIEWER_URL and
// URBANTWIN_ADMIN_TOKEN. Five submissions in all: the page's default burst.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { launch, watchContentSecurityPolicy } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
const token = process.env.URBANTWIN_ADMIN_TOKEN || '';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const PROCEDURE = 'east-squares';
let browser;

before(async () => {
  assert.ok(url && token, 'URBANTWIN_VIEWER_URL and URBANTWIN_ADMIN_TOKEN name the server and its administrator');
  browser = await launch();
  const now = Date.now();
  const made = await fetch(`${url}api/participation/procedures`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      id: PROCEDURE,
      title: 'Squares in the east',
      description: 'Which routes and squares should change?',
      start: new Date(now - 86400e3).toISOString(),
      end: new Date(now + 30 * 86400e3).toISOString(),
      area: { type: 'Polygon', coordinates: [[[12.38, 51.32], [12.44, 51.32], [12.44, 51.36], [12.38, 51.36], [12.38, 51.32]]] },
      questions: ['What should change here?'],
      categories: ['cycling', 'greenery'],
      synthetic: true,
    }),
  });
  assert.ok(made.status === 201 || made.status === 409, `procedure: ${made.status}`);
});

after(async () => {
  await browser?.close();
});

async function open({ width = 1280, height = 900, lang = 'en' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: lang === 'de' ? 'de-DE' : 'en-GB' });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await watchContentSecurityPolicy(page, problems);
  await page.goto(`${url}participate#lang=${lang}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', null, { timeout: 60e3 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true');
  return { context, page, problems };
}

/** Press Tab until the element `id` has the focus (it is reachable by keyboard), else fail. */
async function tabTo(page, id, { backwards = false, most = 400 } = {}) {
  for (let i = 0; i < most; i += 1) {
    if (await page.evaluate((target) => document.activeElement?.id === target, id)) return;
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
  }
  assert.fail(`#${id} is not reached with ${backwards ? 'Shift+' : ''}Tab`);
}

/** Press Tab until the focused element matches `selector`. */
async function tabToMatch(page, selector, most = 400) {
  for (let i = 0; i < most; i += 1) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`${selector} is not reached with Tab`);
}

async function moderatorContributions(status) {
  const answer = await fetch(`${url}api/participation/procedures/${PROCEDURE}/contributions?status=${status}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(answer.status, 200);
  return (await answer.json()).features;
}

describe('participation by keyboard, with lines, areas and comments', () => {
  it('takes an idea, a route and an area from a citizen, by keyboard and by clicks', async () => {
    const { page, context, problems } = await open();
    try {
      await page.locator('#main').focus();
      // The idea form, by keyboard alone.
      await tabTo(page, 'idea-title');
      await page.keyboard.type('Benches along the river');
      await page.keyboard.press('Tab');
      await page.keyboard.type('More benches along the river for older people to rest.');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'idea-category');
      await page.keyboard.press('ArrowDown');
      await tabToMatch(page, '#idea-form button[type=submit]');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /Thank you/.test(document.getElementById('idea-status').textContent));

      // A route, point after point by typed coordinates.
      await page.selectOption('#procedure-select', PROCEDURE);
      await page.waitForFunction(() => document.getElementById('procedure-map').dataset.loaded === 'true', null, { timeout: 30e3 });
      await tabToMatch(page, 'input[name=shape]:checked');
      await page.keyboard.press('ArrowRight'); // the radio group: the next shape, a route (line)
      assert.equal(await page.locator('input[name=shape]:checked').getAttribute('value'), 'LineString');
      assert.equal(await page.locator('#vertex-tools').isVisible(), true);
      assert.match(await page.locator('#place-hint').textContent(), /each point of the route/);
      for (const [lon, lat] of [['12.39', '51.33'], ['12.41', '51.335'], ['12.42', '51.34']]) {
        await tabTo(page, 'contribution-lon');
        await page.keyboard.press('Control+A');
        await page.keyboard.type(lon);
        await page.keyboard.press('Tab');
        await page.keyboard.press('Control+A');
        await page.keyboard.type(lat);
        await tabTo(page, 'vertex-add');
        await page.keyboard.press('Enter');
      }
      assert.match(await page.locator('#vertex-status').textContent(), /^3 points marked$/);
      await tabTo(page, 'vertex-undo');
      await page.keyboard.press('Enter');
      assert.deepEqual(await page.locator('#vertex-list li').allTextContents(), ['Point 1: 12.39, 51.33', 'Point 2: 12.41, 51.335']);
      await tabTo(page, 'contribution-category');
      await tabTo(page, 'contribution-text');
      await page.keyboard.type('A cycle route along here would link the two parks.');
      await tabToMatch(page, '#contribution-form button[type=submit]');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /Thank you/.test(document.getElementById('contribution-status').textContent));
      assert.equal(await page.locator('input[name=shape]:checked').getAttribute('value'), 'Point', 'the form starts again with a point');

      // An area by three clicks on the map; two clicks are not an area yet.
      await page.locator('input[name=shape][value=Polygon]').check();
      const canvas = page.locator('#procedure-map canvas');
      const box = await canvas.boundingBox();
      await canvas.click({ position: { x: box.width * 0.4, y: box.height * 0.4 } });
      await canvas.click({ position: { x: box.width * 0.6, y: box.height * 0.4 } });
      assert.match(await page.locator('#vertex-status').textContent(), /2 points marked · an area needs at least 3 points/);
      await page.fill('#contribution-text', 'This square should get trees and shade.');
      await page.click('#contribution-form button[type=submit]');
      assert.match(await page.locator('#contribution-status').textContent(), /an area needs at least 3 points/);
      await canvas.click({ position: { x: box.width * 0.5, y: box.height * 0.6 } });
      await page.selectOption('#contribution-category', 'greenery');
      await page.click('#contribution-form button[type=submit]');
      await page.waitForFunction(() => /Thank you/.test(document.getElementById('contribution-status').textContent));
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
    const waiting = await moderatorContributions('received');
    const route = waiting.find((f) => f.geometry.type === 'LineString');
    const area = waiting.find((f) => f.geometry.type === 'Polygon');
    assert.deepEqual(route.geometry.coordinates, [[12.39, 51.33], [12.41, 51.335]]);
    assert.equal(area.geometry.coordinates[0].length, 4, 'three corners, the ring closed');
    assert.deepEqual(area.geometry.coordinates[0][0], area.geometry.coordinates[0][3]);
  });

  it('lets a moderator publish by keyboard, and a citizen comment on what is published', async () => {
    const moderator = await open();
    try {
      const { page } = moderator;
      await page.locator('#main').focus();
      await tabTo(page, 'token');
      await page.keyboard.type(token);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#queue [data-contribution]');
      for (let i = 0; i < 2; i += 1) {
        await tabToMatch(page, '#queue [data-contribution] [data-action=accept]');
        await page.keyboard.press('Enter');
        await page.waitForFunction((left) => document.querySelectorAll('#queue [data-contribution]').length === left, 1 - i);
      }
      assert.deepEqual(moderator.problems, []);
    } finally {
      await moderator.context.close();
    }

    const citizen = await open();
    try {
      const { page } = citizen;
      await page.selectOption('#procedure-select', PROCEDURE);
      const route = page.locator('#contribution-list li', { hasText: 'A cycle route along here' });
      await route.waitFor();
      assert.match(await route.locator('.badge').textContent(), /cycling · Place: line/);
      assert.match(await page.locator('#contribution-list li', { hasText: 'trees and shade' }).locator('.badge').textContent(), /Place: area/);
      assert.match(await route.textContent(), /0 comments/);
      for (const text of ['Yes, and with lights for the winter.', 'Nonsense, cyclists are a plague!!!']) {
        await route.locator('textarea').focus();
        await page.keyboard.type(text);
        await page.keyboard.press('Tab');
        await page.keyboard.press('Enter');
        await page.waitForFunction(() => [...document.querySelectorAll('[data-comment-form] .status')].some((s) => /Thank you/.test(s.textContent)));
        await page.evaluate(() => document.querySelectorAll('[data-comment-form] .status').forEach((s) => (s.textContent = '')));
      }
      assert.match(await route.textContent(), /0 comments/, 'not shown before moderation');
      assert.deepEqual(citizen.problems, []);
    } finally {
      await citizen.context.close();
    }

    const again = await open();
    try {
      const { page } = again;
      await page.fill('#token', token);
      await page.click('#token-form button[type=submit]');
      await page.waitForSelector('#queue [data-comment]');
      assert.match(await page.locator('#moderation-status').textContent(), /3 waiting for moderation/); // the idea and two comments
      const kind = page.locator('#queue [data-comment]', { hasText: 'with lights' });
      assert.match(await kind.textContent(), /Comment · Squares in the east.*Comment on: A cycle route along here/s);
      assert.equal(await kind.locator('textarea').count(), 0, 'comments get no answer');
      await kind.locator('[data-action=accept]').focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelectorAll('#queue [data-comment]').length === 1);
      // A comment is declined with a public reason, as ideas and contributions are: none, none sent.
      await page.locator('#queue [data-comment] [data-action=decline]').focus();
      await page.keyboard.press('Enter');
      assert.match(await page.locator('#moderation-status').textContent(), /public reason/);
      assert.equal(await page.locator('#queue [data-comment]').count(), 1);
      await page.locator('#queue [data-comment] input').focus();
      await page.keyboard.type('Said twice already, above.');
      await page.keyboard.press('Tab'); // accept
      await page.keyboard.press('Tab'); // decline
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelectorAll('#queue [data-comment]').length === 0);
      assert.match(await page.locator('#moderation-status').textContent(), /Done: Comment \d+/);
    } finally {
      await again.context.close();
    }

    const reader = await open({ lang: 'de' });
    try {
      const { page } = reader;
      await page.selectOption('#procedure-select', PROCEDURE);
      const route = page.locator('#contribution-list li', { hasText: 'A cycle route along here' });
      await route.waitFor();
      assert.match(await route.textContent(), /1 Kommentar(?!e)/);
      assert.deepEqual(await route.locator('.comments li').allTextContents(), ['Yes, and with lights for the winter.']);
      // In the declined comment's place its public reason, not its text.
      assert.equal(await route.locator('[data-declined-comment]').textContent(), 'Ein Kommentar wurde von der Moderation abgelehnt. Grund: Said twice already, above.');
      assert.match(await route.locator('.badge').textContent(), /Ort: Linie/);
    } finally {
      await reader.context.close();
    }
  });

  it('filters the campus calendar by keyboard', async () => {
    const { page, context } = await open();
    try {
      await page.locator('#main').focus();
      await tabTo(page, 'campus-q');
      await page.keyboard.type('nothing like this');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /No offers or events found/.test(document.getElementById('campus-list').textContent));
    } finally {
      await context.close();
    }
  });

  for (const [name, size, lang] of [
    ['desktop, English', { width: 1280, height: 900 }, 'en'],
    ['phone, German', { width: 375, height: 740 }, 'de'],
  ]) {
    it(`passes axe-core's WCAG 2.1 AA rules with the drawing tools and comment forms shown (${name})`, async () => {
      const { page, context } = await open({ ...size, lang });
      try {
        await page.selectOption('#procedure-select', PROCEDURE);
        await page.waitForSelector('[data-comment-form]');
        await page.locator('input[name=shape][value=LineString]').check();
        await page.fill('#contribution-lon', '12.4');
        await page.fill('#contribution-lat', '51.33');
        await page.click('#vertex-add');
        await page.evaluate(AXE);
        const result = await page.evaluate(async (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG);
        assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);
      } finally {
        await context.close();
      }
    });
  }
});
