// The public-transport view in the viewer: a platform holding Plzeň's real GTFS feed and two scenario
// runs on it, served by the pytest wrapper tests/web/test_transit_browser.py, which names it in
// URBANTWIN_VIEWER_URL. Lines coloured by the model's energy or CO2 per km, a line's hourly profile, a
// stop's departures per hour, two runs side by side — and the map's own layers as they were after.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launch, openViewer } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
const FEED = 'plzen-pmdp-2026-02';
let browser;

before(async () => {
  assert.ok(process.env.URBANTWIN_VIEWER_URL, 'URBANTWIN_VIEWER_URL names a server holding the feed');
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

/** Click the map at a place (longitude, latitude). */
async function clickAt(page, lngLat) {
  const point = await page.evaluate((c) => window.__viewer.map.project(c), lngLat);
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
}

const paint = (page) => page.evaluate(() => JSON.stringify(window.__viewer.map.getPaintProperty('transit::lines', 'line-color')));

describe('the public-transport view', () => {
  it('colours the lines by energy or CO2 per km, opens a line and a stop, compares two runs, and leaves the map as it was', async () => {
    const runs = (await json('api/transit/runs')).runs.filter((r) => r.feed === FEED);
    assert.equal(runs.length, 2);
    const { page, context, problems } = await openViewer(browser, url);
    try {
      const layers = () => page.evaluate(() => window.__viewer.entries().map((e) => [e.key, e.visible]));
      const before = await layers();
      const button = page.locator('#transit-open');
      await button.waitFor({ state: 'visible', timeout: 10000 });
      assert.equal(await page.evaluate(() => performance.getEntriesByType('resource').some((e) => /transit-.*\.js$/.test(e.name))), false, 'the transit code is not loaded before the view opens');
      await button.click();
      await page.waitForSelector('#transit [data-testid="transit-vehicle-types"]');
      assert.equal(await page.locator('#transit [data-testid="transit-model"]').textContent(), 'model result');
      assert.match(await page.locator('[data-testid="transit-feed-source"]').textContent(), /Plzeň \(CZ\), PMDP · Licence: CC BY 4\.0/);
      const types = await page.locator('[data-testid="transit-vehicle-types"] tbody th').allTextContents();
      assert.deepEqual(types.sort(), ['diesel bus', 'tram', 'trolleybus']);

      // The lines are drawn, coloured by energy per km; CO2 per km paints them anew, with its legend.
      await page.waitForFunction(() => window.__viewer.map.queryRenderedFeatures({ layers: ['transit::lines'] }).length > 10, null, { timeout: 20000 });
      const byEnergy = await paint(page);
      assert.match(byEnergy, /^\["match"/);
      assert.match(await page.locator('.transit-legend').textContent(), /Energy per vehicle-km\s*model result/);
      await page.click('[data-colour="co2"]');
      assert.equal(await page.locator('[data-colour="co2"]').getAttribute('aria-pressed'), 'true');
      const byCo2 = await paint(page);
      assert.notEqual(byCo2, byEnergy, 'the colours follow CO2 per km');
      assert.match(await page.locator('.transit-legend').textContent(), /CO₂ per vehicle-km.*kg\/km/s);

      // A click on a line opens its panel: the model's vehicle-km and energy for each hour (24 or more).
      const along = await page.evaluate(() => {
        const feature = window.__viewer.map.queryRenderedFeatures({ layers: ['transit::lines'] }).find((f) => f.geometry.type.endsWith('LineString'));
        const lines = feature.geometry.type === 'LineString' ? [feature.geometry.coordinates] : feature.geometry.coordinates;
        const longest = lines.sort((a, b) => b.length - a.length)[0];
        return longest[Math.floor(longest.length / 2)];
      });
      await clickAt(page, along);
      await page.waitForSelector('#info[data-panel="transit-line"] [data-chart="line-vehicle_km"] polyline', { timeout: 10000 });
      const hours = Number(await page.locator('[data-chart="line-vehicle_km"]').getAttribute('data-hours'));
      assert.ok(hours >= 24, `hours: ${hours}`);
      const points = await page.locator('[data-chart="line-vehicle_km"] polyline').getAttribute('points');
      assert.equal(points.trim().split(/\s+/).length, hours);
      assert.equal(await page.locator('[data-chart="line-final_energy_kwh"] polyline').count(), 1);
      assert.match(await page.locator('#info-kind').textContent(), /model result/);
      assert.match(await page.locator('[data-testid="transit-vehicle-type"]').textContent(), /^(tram|trolleybus|diesel bus)$/);

      // A stop shows its timetabled departures per hour.
      const stop = await json(`ogcapi/collections/${FEED}-stops/items/194`);
      await page.evaluate((c) => window.__viewer.map.jumpTo({ center: c, zoom: 16.5 }), stop.geometry.coordinates);
      await page.waitForFunction(() => window.__viewer.map.queryRenderedFeatures({ layers: ['transit::stops'] }).some((f) => f.properties.id === '194'), null, { timeout: 20000 });
      await clickAt(page, stop.geometry.coordinates);
      await page.waitForSelector('#info[data-panel="transit-stop"] [data-chart="departures"] rect.bar', { timeout: 10000 });
      const departures = await json(`api/transit/feeds/${FEED}/stops/194/departures`);
      assert.equal(await page.locator('[data-testid="transit-departures"]').textContent(), `${departures.departures.toLocaleString('en-GB')} departures`);
      assert.equal(await page.locator('[data-chart="departures"] rect.bar').count(), departures.hourly.length);
      assert.ok(departures.hourly.length >= 24);
      assert.ok((await page.locator('[data-testid="transit-stop-lines"] tbody tr').count()) >= 1);

      // Two runs side by side with the baseline of the first.
      for (const run of runs) await page.check(`#transit-run-${run.id}`);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="transit-compare"] thead th').length === 4, null, { timeout: 10000 });
      const head = await page.locator('[data-testid="transit-compare"] thead').textContent();
      assert.match(head, /Baseline/);
      for (const run of runs) assert.ok(head.includes(run.title), `${run.title} in ${head}`);
      assert.match(await page.locator('[data-testid="transit-compare"] tbody').textContent(), /Final energy \(kWh\)/);

      // In German, every text there.
      await page.click('#lang');
      await page.waitForFunction(() => document.querySelector('#transit [data-testid="transit-model"]').textContent === 'Modellergebnis');
      assert.match(await page.locator('#transit').textContent(), /Nahverkehr: Energie und CO₂/);
      assert.deepEqual(await page.evaluate(() => window.__viewer.missingTexts()), [], 'texts a language lacks');

      // Closing takes the view's layers away and leaves every other layer as it was.
      await page.click('.transit-close');
      assert.equal(await page.evaluate(() => Boolean(window.__viewer.map.getLayer('transit::lines'))), false);
      assert.equal(await page.locator('#transit-open').getAttribute('aria-pressed'), 'false');
      assert.deepEqual(await layers(), before);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
