// The goals page and the district figures of the viewer: a copy of the demo's store (its real data and
// its goals registry) served by the pytest wrapper tests/web/test_goals_browser.py, which names it in
// URBANTWIN_VIEWER_URL. The goals page lists every indicator with its targets' traffic lights in both
// languages; the viewer colours the Ortsteile by the platform's figures (per resident: following the
// year of the time slider), shows the land-use layers and compares two districts.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launch, openViewer, watchContentSecurityPolicy } from './browser.mjs';

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
      // Charging points per 1,000 residents against the national target scaled per resident.
      const charging = page.locator('#goal-charging-per-1000');
      assert.match(await charging.locator('[data-testid="goal-light"]').textContent(), /^(met|not yet met, on course|not on course)$/);
      // In German, counts with their plural forms.
      await page.click('#lang');
      assert.equal(await page.locator('#goals-heading').textContent(), 'Ziele und Indikatoren');
      assert.match(await page.locator('#goals-summary').textContent(), new RegExp(`^${indicators.length} Indikatoren · `));
      assert.match(await no2.textContent(), /kein Jahr mit genug Daten für einen Jahresmittelwert/);
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
      assert.equal(await page.locator('[data-testid="district-year"]').textContent(), '2005');
      assert.notEqual(await paint(), now);
      // The share within 300 m of a stop and the GFZ are figures of now: no year.
      await page.selectOption('#district-stat', 'access300');
      await page.waitForFunction(() => /now/.test(document.querySelector('#district-legend')?.textContent || ''));
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
});
