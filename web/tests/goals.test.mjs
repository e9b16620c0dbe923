// The goals page and the district figures of the viewer: a copy of the demo's store (its real data and
// its goals registry) served by the pytest wrapper tests/web/test_goals_browser.py, which names it in
// URBANTWIN_VIEWER_URL. The goals page lists every indicator with its targets' traffic lights in both
// languages; the viewer colours the Ortsteile by the platform's figures (each following the year of the
// time slider, as the server answers for that year), shows the land-use layers and compares two districts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { launch, openViewer, watchContentSecurityPolicy } from './browser.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** What axe-core's WCAG 2.1 A and AA rules find on the page now. */
async function violations(page) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
  const result = await page.evaluate(async (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG);
  return result.violations.map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(', ')}`);
}

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
let browser;

before(async () => {
  assert.ok(process.env.URBANTWIN_VIEWER_URL, 'URBANTWIN_VIEWER_URL names a server holding the demo');
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

async function json(path) {
  const response = await fetch(new URL(path, url));
  assert.ok(response.ok, `${path}: ${response.status}`);
  return response.json();
}

describe('the goals page', () => {
  it('shows every indicator with its targets and lights, in English and German', async () => {
    const { indicators } = await json('api/indicators');
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'en-GB' });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await watchContentSecurityPolicy(page, problems);
    try {
      await page.goto(`${url}goals#lang=en`);
      await page.waitForSelector('[data-testid="goal"]');
      assert.equal(await page.locator('[data-testid="goal"]').count(), indicators.length);
      assert.equal(await page.locator('#goals-heading').textContent(), 'Goals and indicators');
      const summary = await page.locator('#goals-summary').textContent();
      assert.match(summary, new RegExp(`^${indicators.length} indicators · \\d+ targets? met · \\d+ on course · \\d+ not on course · \\d+ without a value$`));
      // Population growth since 2000: computed from the Ortsteile's residents, up to 2024, with a chart.
      const growth = page.locator('#goal-population-growth');
      assert.match(await growth.locator('[data-testid="goal-latest"]').textContent(), /\(2024\)$/);
      assert.equal(await growth.locator('svg').count(), 1);
      // NO2: two EU limits; the demo's five weeks of 2014 make no annual mean: grey, said why.
      const no2 = page.locator('#goal-no2-annual-mean');
      assert.deepEqual(await no2.locator('[data-testid="goal-target"]').evaluateAll((els) => els.map((e) => e.dataset.light)), ['grey', 'grey']);
      assert.match(await no2.textContent(), /no year with enough data for an annual mean/);
      assert.match(await no2.textContent(), /Directive \(EU\) 2024\/2881/);
      // Each indicator without a light says why: no data for it (none is invented), or no target set.
      const statuses = async (id) => page.locator(`#goal-${id} [data-testid="goal-status"]`).evaluateAll((els) => els.map((e) => e.dataset.status));
      for (const indicator of indicators) {
        const expected = [...(indicator.values.length ? [] : ['no-data']), ...(indicator.targets.length ? [] : ['no-target'])];
        assert.deepEqual(await statuses(indicator.id), expected, indicator.id);
      }
      assert.deepEqual(await statuses('no2-annual-mean'), ['no-data']);
      assert.deepEqual(await statuses('population-growth'), ['no-target']);
      assert.match(await no2.locator('[data-testid="goal-status"]').textContent(), /^No data for this indicator/);
      assert.match(await growth.locator('[data-testid="goal-status"]').textContent(), /^No target set/);
      const withoutData = indicators.filter((i) => !i.values.length).length;
      const withoutTarget = indicators.filter((i) => !i.targets.length).length;
      assert.equal(
        await page.locator('[data-testid="goals-reasons"]').textContent(),
        [withoutData ? `${withoutData} indicator${withoutData === 1 ? '' : 's'} without data` : null, withoutTarget ? `${withoutTarget} indicator${withoutTarget === 1 ? '' : 's'} without a target` : null].filter(Boolean).join(' · '),
      );
      // Charging points per 1,000 residents against the national target scaled per resident.
      const charging = page.locator('#goal-charging-per-1000');
      assert.match(await charging.locator('[data-testid="goal-light"]').textContent(), /^(met|not yet met, on course|not on course)$/);
      // In German, counts with their plural forms.
      await page.click('#lang');
      assert.equal(await page.locator('#goals-heading').textContent(), 'Ziele und Indikatoren');
      assert.match(await page.locator('#goals-summary').textContent(), new RegExp(`^${indicators.length} Indikatoren · `));
      assert.match(await no2.textContent(), /kein Jahr mit genug Daten für einen Jahresmittelwert/);
      assert.match(await no2.locator('[data-testid="goal-status"]').textContent(), /^Keine Daten für diesen Indikator/);
      assert.match(await growth.locator('[data-testid="goal-status"]').textContent(), /^Kein Ziel gesetzt/);
      assert.deepEqual(await violations(page), [], 'axe-core on the goals page');
      assert.equal(await page.locator('#back-to-map').getAttribute('href'), './');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});

describe('the district figures in the viewer', () => {
  it('links the goals page, colours the Ortsteile by the platform figures, shows land use and compares two districts', async () => {
    const { page, context, problems } = await openViewer(browser, url);
    try {
      assert.equal(await page.locator('#goals-open').getAttribute('href'), 'goals');
      const paint = () => page.evaluate(() => JSON.stringify(window.__viewer.map.getPaintProperty('ortsteile::fill', 'fill-color')));
      // Charging points per 1,000 residents follow the year of the time slider: 2010's residents, 2024's.
      await page.selectOption('#district-stat', 'charging_per_1000');
      await page.waitForSelector('[data-testid="district-year"]');
      assert.equal(await page.locator('[data-testid="district-year"]').textContent(), '2024');
      const now = await paint();
      assert.match(now, /^\["match"/);
      await page.evaluate(() => window.__viewer.districts.setYear(2005));
      await page.waitForFunction(() => document.querySelector('[data-testid="district-year"]')?.textContent === '2005');
      await page.waitForFunction((before) => JSON.stringify(window.__viewer.map.getPaintProperty('ortsteile::fill', 'fill-color')) !== before, now);
      // The share within 300 m of a stop follows the year too.
      await page.selectOption('#district-stat', 'access300');
      await page.waitForFunction(() => /within 300 m/.test(document.querySelector('#district-legend')?.textContent || ''));
      assert.equal(await page.locator('[data-testid="district-year"]').textContent(), '2005');
      assert.match(await paint(), /^\["match"/);
      await page.selectOption('#district-stat', 'gfz');
      await page.waitForFunction(() => /Floor-area ratio/.test(document.querySelector('#district-legend')?.textContent || ''));
      const gfz = JSON.parse(await paint());
      assert.ok(gfz.length > 4, 'some Ortsteile have a GFZ (those with buildings)');
      // The land-use layers: blocks by GFZ (grid cells: the demo has no blocks of its own) and candidates.
      await page.check('#landuse-blocks');
      await page.waitForFunction(() => /blocks? shown/.test(document.querySelector('[data-testid="landuse-status"]')?.textContent || ''));
      assert.match(await page.locator('[data-testid="landuse-status"]').textContent(), /^\d+ blocks shown \(the city has no blocks of its own: 100 m grid cells\)$/);
      assert.ok(await page.evaluate(() => window.__viewer.map.getLayer('landuse-blocks::fill') !== undefined));
      await page.check('#landuse-infill');
      await page.waitForFunction(() => /candidates? shown/.test(document.querySelector('[data-testid="landuse-status"]')?.textContent || ''));
      await page.uncheck('#landuse-blocks');
      assert.equal(await page.evaluate(() => window.__viewer.map.getLayoutProperty('landuse-blocks::fill', 'visibility')), 'none');
      // A district's profile, compared with another.
      await page.evaluate(async () => {
        const d = window.__viewer.districts;
        const rows = await d.load('ortsteile');
        const plagwitz = rows.find((r) => r.properties.name === 'Plagwitz');
        d.openProfile('ortsteile', { id: plagwitz.id, properties: plagwitz.properties });
      });
      await page.waitForSelector('[data-testid="district-compare"] select');
      const lindenau = await page.locator('#district-compare option', { hasText: /^Lindenau$/ }).getAttribute('value');
      await page.selectOption('#district-compare', lindenau);
      await page.waitForSelector('[data-testid="district-compare-table"]');
      const header = await page.locator('[data-testid="district-compare-table"] thead').textContent();
      assert.match(header, /Plagwitz\s*Lindenau/);
      assert.match(await page.locator('[data-testid="district-compare-table"] tbody').textContent(), /Residents/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('moves every district figure with the time slider: the access share, the GFZ and the profile are the server\'s for that year, with the inputs that have no history named', async () => {
    const { page, context, problems } = await openViewer(browser, url, { hash: '#layers=stadtbezirke,ortsteile&areas=stadtbezirke&stat=access300' });
    try {
      await page.waitForSelector('[data-testid="district-year"]', { timeout: 30000 });
      const latest = Number(await page.locator('[data-testid="district-year"]').textContent());
      const now = await json(`api/districts/stadtbezirke/access?min_departures=0&year=${latest}`);
      // The first year of the slider: the shares of that year as the server answers them.
      const asked = page.waitForResponse((r) => /api\/districts\/stadtbezirke\/access\?.*year=2000/.test(r.url()), { timeout: 90000 });
      await page.focus('#time-slider');
      await page.keyboard.press('Home');
      const then = await (await asked).json();
      await page.waitForFunction(() => document.querySelector('[data-testid="district-year"]')?.textContent === '2000');
      const expected = Object.fromEntries(then.districts.filter((d) => typeof d.within['300'] === 'number').map((d) => [String(d.id), d.within['300'] * 100]));
      assert.ok(Object.keys(expected).length >= 5, 'the boroughs have shares in 2000');
      const shown = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, window.__viewer.districts.figureOf(id)])), Object.keys(expected));
      for (const [id, value] of Object.entries(expected)) assert.ok(Math.abs(shown[id] - value) < 1e-9, `borough ${id}: ${shown[id]} shown, ${value} of 2000`);
      // the residents of 2000 lived elsewhere than those of the latest year: some borough's share moved
      const moved = now.districts.filter((d) => typeof d.within['300'] === 'number' && Math.abs(d.within['300'] * 100 - expected[String(d.id)]) > 1e-6);
      assert.ok(moved.length > 0, 'a share differs between 2000 and the latest year');
      const inputs = await page.locator('#district-legend [data-testid="district-as-of"]').textContent();
      assert.match(inputs, /Residents: 2000/);
      assert.match(inputs, /Public-transport stops: today's network \(no history in the data\)/);
      // The GFZ of the Ortsteile as of 2000: the buildings' data has no history, and says so.
      const landuse = page.waitForResponse((r) => /api\/districts\/ortsteile\/landuse\?year=2000/.test(r.url()), { timeout: 60000 });
      await page.selectOption('#district-level', 'ortsteile');
      await page.selectOption('#district-stat', 'gfz');
      const gfz = await (await landuse).json();
      const plagwitz = gfz.districts.find((d) => d.name === 'Plagwitz');
      await page.waitForFunction((id) => window.__viewer.districts.figureOf(id) !== null, String(plagwitz.id));
      assert.equal(await page.evaluate((id) => window.__viewer.districts.figureOf(id), String(plagwitz.id)), plagwitz.gfz);
      assert.match(await page.locator('#district-legend [data-testid="district-as-of"]').textContent(), /Buildings: today's data \(no history in the data\)/);
      // A district's profile follows the slider too: its figures and residents near a stop of 2000.
      await page.fill('#search-input', 'Plagwitz');
      await page.waitForSelector('#search-results [role=option]', { timeout: 20000 });
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await page.waitForSelector('[data-testid="district-access"]', { timeout: 90000 });
      const access = await json('api/districts/ortsteile/access?min_departures=0&year=2000');
      const near = access.districts.find((d) => d.name === 'Plagwitz');
      const panel = await page.locator('[data-testid="district-figures"]').textContent();
      assert.match(panel, /Trees per resident \(2000\)/);
      // the charging register gives each point's commissioning: the points of 2000, said to be historic
      assert.match(panel, /EV charging points: as of 2000 \(the data's validity in time\)/);
      assert.match(panel, /Street trees: today's data \(no history in the data\)/);
      assert.match(await page.locator('[data-testid="district-access"]').textContent(), new RegExp(`Residents within 500 m of a stop${Math.round(near.within['500'] * 100)} %`));
      assert.match(await page.locator('[data-testid="district-facts"]').textContent(), /\(2000\)/);
      assert.deepEqual(await violations(page), [], 'axe-core with the figures of 2000 and their inputs shown');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
