// A partner city's layers in the viewer (connected twins): the partners the platform registers are
// groups of their own in the layer tree, titled with the partner's name and naming its source and
// licence; a layer is switched on from the keyboard like ours, drawn, kept live while shown (read
// again through the platform when its answer may no longer be kept), and its features open a
// panel that credits the partner; a partner that is down is said so while everything else works;
// the page asks no other server; a second twin (another urbantwin server) is shown the same way;
// axe-core finds no WCAG 2.1 A/AA violation with the partners shown. The server and the partners
// are the ones the pytest wrapper (tests/web/test_partners_browser.py) starts: URBANTWIN_VIEWER_URL,
// URBANTWIN_ADMIN_TOKEN, URBANTWIN_PARTNER_URL, URBANTWIN_SECOND_TWIN_URL, URBANTWIN_PARTNER_DOWN_URL.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { launch, watchContentSecurityPolicy } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
const token = process.env.URBANTWIN_ADMIN_TOKEN || '';
const partnerUrl = process.env.URBANTWIN_PARTNER_URL || '';
const downUrl = process.env.URBANTWIN_PARTNER_DOWN_URL || '';
const twinUrl = process.env.URBANTWIN_SECOND_TWIN_URL || '';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const STATIONS = 'partner:hamburg-geo:stations';
let browser;

async function register(body) {
  const answer = await fetch(`${url}api/remotes`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ kind: 'ogcapi', licence: 'dl-de/by-2-0', ...body }),
  });
  assert.ok(answer.status === 201 || answer.status === 409, `register ${body.name}: ${answer.status}`);
}

before(async () => {
  assert.ok(url && token && partnerUrl && downUrl && twinUrl, 'the pytest wrapper names the server, its administrator and the partners');
  browser = await launch();
  await register({ name: 'hamburg-geo', url: partnerUrl, title: 'Hamburg (partner city)', attribution: 'Freie und Hansestadt Hamburg' });
  await register({ name: 'munich-geo', url: downUrl, title: 'Munich (partner city)', attribution: 'Landeshauptstadt München' });
  await register({ name: 'hamburg-sta', kind: 'sensorthings', url: partnerUrl.replace(/ogcapi$/, 'v1.1'), title: 'Hamburg’s sensors', attribution: 'Freie und Hansestadt Hamburg' });
  await register({ name: 'second-twin', url: twinUrl, title: 'The second twin', attribution: 'Second twin', licence: 'CC-BY-4.0' });
});

after(async () => {
  await browser?.close();
});

async function open({ lang = 'en', hash = '' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: lang === 'de' ? 'de-DE' : 'en-GB' });
  const page = await context.newPage();
  const problems = [];
  const origin = new URL(url).origin;
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !/^(data|blob):/.test(r.url())) problems.push(`external request: ${r.url()}`);
  });
  await watchContentSecurityPolicy(page, problems);
  await page.goto(`${url}#lang=${lang}${hash}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', null, { timeout: 60e3 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true');
  return { context, page, problems };
}

const stationData = (page) => page.evaluate((source) => window.__viewer.map.getSource(source).serialize().data, STATIONS);

describe('a partner city’s layers in the viewer', () => {
  it('lists each partner as a group with its source and licence, and says which one is down', async () => {
    const { page, context, problems } = await open();
    try {
      const group = page.locator('[data-partner="hamburg-geo"]');
      assert.equal(await group.locator('h3').textContent(), 'Hamburg (partner city)');
      assert.equal(await group.locator('.tree-note').textContent(), 'Data: Freie und Hansestadt Hamburg · Licence: dl-de/by-2-0');
      assert.deepEqual(await group.locator('.tree-title').allTextContents(), ['Bike-sharing stations', 'Cycle routes']);
      const down = page.locator('[data-partner="munich-geo"]');
      assert.match(await down.locator('.error').textContent(), /cannot be read now/);
      // A SensorThings partner: its group says where its mirrored sensors are (none yet), no layers.
      const sensing = page.locator('[data-partner="hamburg-sta"]');
      assert.equal(await sensing.locator('h3').textContent(), 'Hamburg’s sensors');
      assert.match(await sensing.textContent(), /Licence: dl-de\/by-2-0.*shown among the sensors once they are mirrored/s);
      assert.equal(await sensing.locator('input').count(), 0);
      // Our own layers are there as before (the store's boundary of the portfolio's areas, or none).
      assert.ok(await page.locator('#layer-tree .tree-group').count() >= 2);
      assert.deepEqual(problems.filter((p) => !/502/.test(p)), []);
    } finally {
      await context.close();
    }
  });

  it('switches a partner layer on from the keyboard, draws it live and credits the partner', async () => {
    const { page, context, problems } = await open();
    try {
      const box = page.locator(`[data-entry="${STATIONS}"] input[type=checkbox]`);
      await box.focus();
      await page.keyboard.press('Space');
      assert.equal(await box.isChecked(), true);
      await page.waitForFunction((source) => window.__viewer.map.getSource(source).serialize().data.features?.length === 2, STATIONS, { timeout: 20e3 });
      const first = (await stationData(page)).features[0].properties.bikes;
      const legend = page.locator(`[data-entry="${STATIONS}"] .tree-legend`);
      assert.match(await legend.textContent(), /Freie und Hansestadt Hamburg \(dl-de\/by-2-0\)/);
      assert.match(await legend.textContent(), /refreshed every 15 s while shown/);
      assert.match(await page.locator(`[data-entry="${STATIONS}"] .tree-count`).textContent(), /^2 features$/);
      // Live: read again once the answer may no longer be kept (at least 15 s), with new values.
      await page.waitForFunction(
        ([source, before]) => window.__viewer.map.getSource(source).serialize().data.features[0].properties.bikes !== before,
        [STATIONS, first],
        { timeout: 40e3 },
      );
      // A station on the map opens a panel that credits the partner.
      const point = await page.evaluate(() => {
        const map = window.__viewer.map;
        map.jumpTo({ center: [9.993, 53.553], zoom: 15, pitch: 0, bearing: 0 });
        return new Promise((resolve) => map.once('idle', () => resolve(map.project([9.993, 53.553]))));
      });
      await page.locator('#map canvas').click({ position: { x: point.x, y: point.y } });
      await page.waitForFunction(() => document.getElementById('info').dataset.panel === 'partner');
      assert.match(await page.locator('#info-kind').textContent(), /Partner’s feature · Bike-sharing stations/);
      assert.equal(await page.locator('#info-title').textContent(), 'Jungfernstieg');
      assert.match(await page.locator('#info-body').textContent(), /bikes.*Freie und Hansestadt Hamburg \(dl-de\/by-2-0\)/s);
      // Switched off: no longer read.
      await page.keyboard.press('Escape');
      await box.focus();
      await page.keyboard.press('Space');
      assert.equal(await page.evaluate((key) => window.__viewer.partners.timers.has(key), STATIONS), false);
      assert.deepEqual(problems.filter((p) => !/502/.test(p)), []);
    } finally {
      await context.close();
    }
  });

  it('shows a layer of another urbantwin server, read through ours', async () => {
    const { page, context, problems } = await open({ hash: '&layers=partner:second-twin:squares' });
    try {
      const group = page.locator('[data-partner="second-twin"]');
      assert.equal(await group.locator('.tree-note').textContent(), 'Data: Second twin · Licence: CC-BY-4.0');
      assert.deepEqual(await group.locator('.tree-title').allTextContents(), ['Squares']);
      await page.waitForFunction(() => /^3 features$/.test(document.querySelector('[data-entry="partner:second-twin:squares"] .tree-count')?.textContent || ''), null, { timeout: 20e3 });
      const drawn = await page.evaluate(() => {
        const map = window.__viewer.map;
        map.jumpTo({ center: [9.997, 53.5515], zoom: 13, pitch: 0, bearing: 0 });
        return new Promise((resolve) => map.once('idle', () => resolve(map.queryRenderedFeatures({ layers: ['partner:second-twin:squares::fill'] }).map((f) => f.properties.name))));
      });
      assert.deepEqual([...new Set(drawn)].sort(), ['Gänsemarkt', 'Hansaplatz', 'Rathausmarkt']);
      assert.deepEqual(problems.filter((p) => !/502/.test(p)), []);
    } finally {
      await context.close();
    }
  });

  it('keeps a partner layer in the permalink and reads in German', async () => {
    const { page, context } = await open({ lang: 'de', hash: '&layers=partner:hamburg-geo:cycle-routes' });
    try {
      const group = page.locator('[data-partner="hamburg-geo"]');
      assert.equal(await group.locator('.tree-note').textContent(), 'Daten: Freie und Hansestadt Hamburg · Lizenz: dl-de/by-2-0');
      assert.equal(await page.locator('[data-entry="partner:hamburg-geo:cycle-routes"] input').isChecked(), true);
      await page.waitForFunction(() => /^1 Objekt$/.test(document.querySelector('[data-entry="partner:hamburg-geo:cycle-routes"] .tree-count')?.textContent || ''), null, { timeout: 20e3 });
      assert.match(await page.locator('[data-partner="munich-geo"] .error').textContent(), /nicht lesbar/);
    } finally {
      await context.close();
    }
  });

  it('passes axe-core’s WCAG 2.1 AA rules with the partners’ groups shown', async () => {
    const { page, context } = await open({ hash: `&layers=${STATIONS}` });
    try {
      await page.waitForSelector(`[data-entry="${STATIONS}"] .tree-count`);
      await page.evaluate(AXE);
      const result = await page.evaluate(async (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG);
      assert.deepEqual(
        result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
        [],
      );
    } finally {
      await context.close();
    }
  });
});
