// The digital-infrastructure view in the viewer: a platform holding three site registries (a WLAN
// site, Freifunk nodes with their client counts, a LoRaWAN gateway that heard an uplink) and a stored
// siting scenario, served by the pytest wrapper tests/web/test_infrastructure_browser.py, which names
// it in URBANTWIN_VIEWER_URL. Sites by technology and operator, a node's live client count, a
// gateway's uplinks, the coverage model's gap map with its table per district, the proposed site with
// its gain — in English and German — and the map's own layers as they were after.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launch, openViewer } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
let browser;

before(async () => {
  assert.ok(process.env.URBANTWIN_VIEWER_URL, 'URBANTWIN_VIEWER_URL names a server holding the registries');
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

/** Centre the map on a site and wait until it is drawn there. */
async function goTo(page, site) {
  await page.evaluate((c) => window.__viewer.map.jumpTo({ center: c, zoom: 17, pitch: 0, bearing: 0 }), site.geometry.coordinates);
  await page.waitForFunction((key) => window.__viewer.map.queryRenderedFeatures({ layers: ['infrastructure::sites'] }).some((f) => f.properties.key === key), site.id, { timeout: 20000 });
}

describe('the digital-infrastructure view', () => {
  it('shows the sites by technology and operator, a node’s clients, a gateway’s uplinks, the gaps and the proposed site', async () => {
    const sites = (await json('api/infrastructure/sites')).features;
    assert.equal(sites.length, 4);
    const node = sites.find((s) => s.properties.site_id === 'f4f26d8eda8e');
    const gateway = sites.find((s) => s.properties.technology === 'lorawan_gateway');
    const { page, context, problems } = await openViewer(browser, url);
    try {
      const layers = () => page.evaluate(() => window.__viewer.entries().map((e) => [e.key, e.visible]));
      const before = await layers();
      const button = page.locator('#infrastructure-open');
      await button.waitFor({ state: 'visible', timeout: 10000 });
      assert.equal(await page.evaluate(() => performance.getEntriesByType('resource').some((e) => /infrastructure-.*\.js$/.test(e.name))), false, 'the view’s code is not loaded before it opens');
      await button.click();
      await page.waitForSelector('#infrastructure [data-testid="infrastructure-count"]');
      assert.equal(await page.locator('[data-testid="infrastructure-count"]').textContent(), '4 sites');
      const technologies = await page.locator('[data-testid="infrastructure-technologies"] li').allTextContents();
      assert.deepEqual(technologies.map((s) => s.replace(/\s+/g, ' ').trim()), ['Public Wi-Fi 3', 'LoRaWAN gateway 1']);
      const operators = (await page.locator('[data-testid="infrastructure-operators"] li').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
      assert.deepEqual(operators, ['Freifunk Test 2', 'Stadtwerke (test) 1', 'Testnetz 1']);

      // A Freifunk node: its latest client count, from its Datastream.
      await goTo(page, node);
      await clickAt(page, node.geometry.coordinates);
      await page.waitForSelector('#info[data-panel="infrastructure-site"] [data-testid="infrastructure-clients"]', { timeout: 10000 });
      assert.equal(await page.locator('[data-testid="infrastructure-clients"]').textContent(), '3 clients');
      assert.equal(await page.locator('[data-testid="infrastructure-site-technology"]').textContent(), 'Public Wi-Fi');

      // Unticking Wi-Fi takes the node off the map; ticking it brings it back.
      await page.uncheck('input[data-technology="wlan"]');
      await page.waitForFunction(() => !window.__viewer.map.queryRenderedFeatures({ layers: ['infrastructure::sites'] }).some((f) => f.properties.technology === 'wlan'), null, { timeout: 10000 });
      await page.check('input[data-technology="wlan"]');
      await page.uncheck('input[data-operator="Stadtwerke (test)"]');
      await page.waitForFunction(() => !window.__viewer.map.queryRenderedFeatures({ layers: ['infrastructure::sites'] }).some((f) => f.properties.technology === 'lorawan_gateway'), null, { timeout: 10000 });
      await page.check('input[data-operator="Stadtwerke (test)"]');

      // The gateway: the uplink it heard, with the device that has no other gateway.
      await goTo(page, gateway);
      await clickAt(page, gateway.geometry.coordinates);
      await page.waitForSelector('#info[data-panel="infrastructure-site"] [data-testid="infrastructure-uplinks"]', { timeout: 10000 });
      assert.equal(await page.locator('[data-testid="infrastructure-uplinks"]').textContent(), '1 uplink heard');
      assert.match(await page.locator('[data-testid="infrastructure-devices"] tbody').textContent(), /0101010101010101\s*1\s*.36 dBm\s*10\.5 dB\s*only gateway/);

      // The coverage model: the gap map (home 2, behind the office) and the quarter's table.
      await page.selectOption('#infrastructure-technology', 'wlan');
      await page.selectOption('#infrastructure-resolution', '25');
      await page.click('#infrastructure-compute');
      await page.waitForSelector('[data-testid="infrastructure-districts"] tbody tr', { timeout: 60000 });
      assert.match(await page.locator('[data-testid="infrastructure-districts"] tbody').textContent(), /Testviertel/);
      assert.match(await page.locator('[data-testid="infrastructure-total"]').textContent(), / of 60 residents covered by \d+ sites? \(Wi-Fi 2\.4 GHz\)/);
      assert.match(await page.locator('[data-testid="infrastructure-legend"]').textContent(), /where people live without coverage/);
      assert.equal(await page.evaluate(() => window.__viewer.infrastructure.view.coverage.map.geometry.type.endsWith('Polygon')), true, 'the gap map is drawn');
      assert.equal(await page.evaluate(() => Boolean(window.__viewer.map.getLayer('infrastructure::coverage'))), true);
      assert.match(await page.locator('#infrastructure').textContent(), /model result/);

      // The stored siting scenario: its proposed site with the residents it adds.
      const [scenario] = (await json('api/infrastructure/siting')).scenarios;
      await page.selectOption('#infrastructure-scenario', scenario.id);
      await page.waitForSelector('[data-testid="infrastructure-proposed"] tbody tr', { timeout: 10000 });
      assert.match(await page.locator('[data-testid="infrastructure-proposed"] tbody').textContent(), /1\s*P1\s*30 residents/);
      assert.equal(await page.locator('[data-testid="infrastructure-scenario-gain"]').textContent(), '1 proposed site covers 30 more residents');
      await page.click('[data-testid="infrastructure-proposed"] tbody tr');
      await page.waitForSelector('#info[data-panel="infrastructure-proposed"]');
      assert.equal(await page.locator('[data-testid="infrastructure-gain"]').textContent(), '30 residents');
      // the map goes to it, drawn there
      await page.waitForFunction(() => window.__viewer.map.queryRenderedFeatures({ layers: ['infrastructure::proposed'] }).some((f) => f.properties.candidate === 'P1'), null, { timeout: 20000 });

      // In German, every text there.
      await page.click('#lang');
      await page.waitForFunction(() => document.querySelector('#infrastructure-title').textContent === 'Digitale Infrastruktur');
      assert.equal(await page.locator('[data-testid="infrastructure-count"]').textContent(), '4 Standorte');
      assert.match(await page.locator('#infrastructure').textContent(), /Modellergebnis/);
      assert.deepEqual(await page.evaluate(() => window.__viewer.missingTexts()), [], 'texts a language lacks');

      // Closing takes the view's layers away and leaves every other layer as it was.
      await page.click('.infrastructure-close');
      for (const layer of ['infrastructure::sites', 'infrastructure::coverage', 'infrastructure::proposed']) {
        assert.equal(await page.evaluate((id) => Boolean(window.__viewer.map.getLayer(id)), layer), false, layer);
      }
      assert.equal(await page.locator('#infrastructure-open').getAttribute('aria-pressed'), 'false');
      assert.deepEqual(await layers(), before);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
