// Another city in the viewer: a platform set up from Dresden's profile and files alone (docs/new-city.md),
// served by the pytest wrapper tests/web/test_city_browser.py, which names it in URBANTWIN_VIEWER_URL.
// The viewer knows no city: what it shows of this one comes from the profile in `api/viewer/config`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launch, openViewer } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
let browser;

before(async () => {
  assert.ok(process.env.URBANTWIN_VIEWER_URL, 'URBANTWIN_VIEWER_URL names the server of the second city');
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

describe('a second city, from its profile', () => {
  it('opens on the city and shows its districts as its profile names them', async () => {
    const { city } = await json('api/viewer/config');
    const { page, context, problems } = await openViewer(browser, url);
    try {
      const centre = await page.evaluate(() => window.__viewer.map.getCenter());
      const [west, south, east, north] = city.extent;
      assert.ok(centre.lng > west && centre.lng < east && centre.lat > south && centre.lat < north, JSON.stringify(centre));
      assert.equal(await page.locator('#districts-heading').textContent(), 'Districts');
      const visible = (await page.evaluate(() => window.__viewer.entries())).filter((e) => e.visible).map((e) => e.key);
      assert.ok(visible.includes('stadtteile'), visible.join(', '));
      // Residents per Stadtteil, for the last year the profile's `population_{year}` properties hold.
      await page.selectOption('#district-stat', 'population');
      await page.waitForSelector('[data-testid="district-year"]');
      assert.equal(await page.locator('[data-testid="district-year"]').textContent(), '2024');
      const paint = await page.evaluate(() => JSON.stringify(window.__viewer.map.getPaintProperty('stadtteile::fill', 'fill-color')));
      assert.match(paint, /population_2024/);
      // The city's attribution is under the map.
      assert.match(await page.locator('.maplibregl-ctrl-attrib').textContent(), /Landeshauptstadt Dresden/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('colours the Stadtteile by the mean of the air-quality stations inside, in German', async () => {
    const { page, context, problems } = await openViewer(browser, url, { hash: '#lang=de' });
    try {
      assert.equal(await page.locator('#districts-heading').textContent(), 'Stadtteile');
      const properties = await json(`v1.1/ObservedProperties?$filter=name eq 'Nitrogen dioxide (NO2)'`);
      const no2 = properties.value[0]['@iot.id'];
      await page.selectOption('#district-stat', `sensor:${no2}`);
      await page.waitForSelector('[data-testid="district-sensors"]');
      assert.equal(await page.locator('[data-testid="district-sensors"]').textContent(), '3 Sensoren in 3 Gebieten');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('finds a Stadtteil and opens its profile with the residents over the years', async () => {
    const { page, context, problems } = await openViewer(browser, url);
    try {
      await page.fill('#search-input', 'Innere Neustadt');
      await page.waitForSelector('#search-results [role=option]', { timeout: 10000 });
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#info[data-panel="district"] .chart-box svg', { timeout: 10000 });
      assert.equal(await page.locator('#info-title').textContent(), 'Innere Neustadt');
      const facts = await page.locator('#info .facts').first().textContent(); // the district's own; the platform's figures come after
      assert.match(facts, /Residents|Population/);
      assert.match(await page.locator('#info .chart-title').first().textContent(), /2020.2024/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
