// The viewer in a real browser: Debian's Chromium (headless, software WebGL) driven by playwright-core,
// against a demo server (started here on a free port, or the one URBANTWIN_VIEWER_URL names, as the
// pytest wrapper tests/web/test_viewer_browser.py does). Run: `node --test web/tests/viewer.test.mjs`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { demoServer, launch, openViewer } from './browser.mjs';

let server;
let browser;

before(async () => {
  server = await demoServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function json(path, init) {
  const response = await fetch(new URL(path, server.url), init);
  assert.ok(response.ok, `${path}: ${response.status} ${await response.clone().text()}`);
  return response.json();
}

/** The number of distinct colours in a PNG screenshot (decoded by the browser itself). */
async function distinctColours(page, png) {
  return page.evaluate(async (data) => {
    const image = new Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, image.width, image.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length; i += 16) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    return colours.size;
  }, png.toString('base64'));
}

async function clickSensor(page, id) {
  const point = await page.evaluate((d) => window.__viewer.sensorScreenPoint(d), id);
  assert.ok(point, `sensor ${id} is on the map`);
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
}

describe('the viewer', () => {
  it('loads with no console errors and no request to another server, and renders the buildings', async () => {
    const { page, context, problems } = await openViewer(browser, server.url);
    try {
      const buildings = await page.evaluate(() => window.__viewer.renderedBuildings());
      assert.ok(buildings > 1000, `rendered buildings: ${buildings}`);
      const shot = await page.locator('#map').screenshot();
      const colours = await distinctColours(page, shot);
      assert.ok(colours > 50, `the map's screenshot has ${colours} colours: blank`);
      await page.waitForTimeout(1500); // a poll or two of the live values
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('builds the layer tree from the collections and observed properties, and toggles layers', async () => {
    const { page, context, problems } = await openViewer(browser, server.url);
    try {
      const collections = (await json('ogcapi/collections')).collections.map((c) => c.id);
      const properties = (await json('v1.1/ObservedProperties?$select=@iot.id,name')).value;
      const entries = await page.evaluate(() => window.__viewer.entries());
      for (const id of collections) assert.ok(entries.some((e) => e.key === id), `collection ${id} in the tree`);
      const located = new Set((await json('api/timeseries/latest')).features.filter((f) => f.geometry).map((f) => f.properties.observedPropertyId));
      for (const op of properties.filter((p) => located.has(p['@iot.id']))) {
        assert.ok(entries.some((e) => e.key === `op:${op['@iot.id']}`), `observed property ${op.name} in the tree`);
      }
      const box = page.locator('[data-entry="buildings"] input[type=checkbox]');
      assert.equal(await box.isChecked(), true);
      await box.uncheck();
      await page.waitForFunction(() => window.__viewer.renderedBuildings() === 0, null, { timeout: 5000 });
      assert.match(await page.evaluate(() => location.hash), /layers=(?![^&]*\bbuildings\b)/);
      await box.check();
      await page.waitForFunction(() => window.__viewer.renderedBuildings() > 1000, null, { timeout: 10000 });
      // A sensor layer too: NO2 on shows its stations.
      const no2 = properties.find((p) => /NO2/.test(p.name))['@iot.id'];
      await page.locator(`[data-entry="op:${no2}"] input`).check();
      await page.waitForFunction((op) => window.__viewer.renderedSensors(op).length > 0, no2, { timeout: 5000 });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('opens the chart of a clicked sensor, with a link to its data', async () => {
    const latest = (await json('api/timeseries/latest?observedProperty=2')).features.filter((f) => f.geometry);
    const stream = latest[0].properties;
    const { page, context, problems } = await openViewer(browser, server.url, { hash: `#layers=buildings,op:${stream.observedPropertyId}` });
    try {
      await clickSensor(page, stream.datastreamId);
      await page.waitForSelector('#info:not([hidden]) .chart-box svg', { timeout: 10000 });
      assert.equal(await page.locator('#info-title').textContent(), stream.datastreamName);
      const points = Number(await page.locator('.chart-box').getAttribute('data-points'));
      assert.ok(points > 0, 'the chart has points');
      const href = await page.locator('#info a[href*="/Observations"]').getAttribute('href');
      assert.ok(href.endsWith(`/v1.1/Datastreams(${stream.datastreamId})/Observations`), href);
      await page.click('[data-window="year"]');
      await page.waitForFunction(() => document.querySelector('[data-window="year"]').getAttribute('aria-pressed') === 'true' && document.querySelector('.chart-box svg'));
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('#info').isHidden(), true);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('shows an observation POSTed over the API on the map within 2 s', async () => {
    const { page, context, problems } = await openViewer(browser, server.url);
    try {
      // Pushed where the server has the stream of Observations (else polled, as the viewer degrades).
      if ((await json('api/viewer/config')).liveUrl) {
        await page.waitForFunction(() => window.__viewer.transport() === 'push', null, { timeout: 10000 });
      }
      // The sensors are drawn once their latest values and the map's next frame are in; on a loaded
      // machine that can come after the stream is open.
      await page.waitForFunction(() => window.__viewer.renderedSensors().length > 0, null, { timeout: 15000 });
      const shown = await page.evaluate(() => window.__viewer.renderedSensors());
      assert.ok(shown.length > 0, 'sensors are drawn');
      const id = shown[0].id;
      const value = 7.25;
      const response = await fetch(new URL(`v1.1/Datastreams(${id})/Observations`, server.url), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
        body: JSON.stringify({ result: value, phenomenonTime: new Date().toISOString() }),
      });
      assert.equal(response.status, 201, await response.text());
      const posted = Date.now();
      await page.waitForFunction(
        ([d, v]) => window.__viewer.renderedSensors().some((s) => s.id === d && s.v === v),
        [id, value],
        { timeout: 2000, polling: 50 },
      );
      const took = Date.now() - posted;
      assert.ok(took <= 2000, `shown after ${took} ms`);
      console.log(`# a POSTed observation was on the map after ${took} ms (${await page.evaluate(() => window.__viewer.transport())})`);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('replays history with the time slider', async () => {
    const { page, context, problems } = await openViewer(browser, server.url);
    try {
      await page.waitForFunction(() => window.__viewer.renderedSensors().some((s) => s.v !== null), null, { timeout: 15000 });
      const live = await page.evaluate(() => window.__viewer.renderedSensors());
      assert.ok(live.some((s) => s.v !== null), 'live values are shown');
      await page.focus('#time-slider');
      await page.keyboard.press('Home'); // the first time of the range
      await page.waitForFunction(() => window.__viewer.timeline.time !== null && window.__viewer.sensors.pending === 0);
      await page.waitForFunction(
        (before) => {
          const now = window.__viewer.renderedSensors();
          return now.length && now.some((s) => s.v !== (before.find((b) => b.id === s.id)?.v ?? null));
        },
        live,
        { timeout: 5000 },
      );
      assert.equal(await page.locator('#time-live').getAttribute('aria-pressed'), 'false');
      assert.match(await page.evaluate(() => location.hash), /time=\d{4}-/);
      await page.keyboard.press('End');
      await page.click('#time-live');
      await page.waitForFunction(() => window.__viewer.timeline.time === null);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('restores a view from a permalink, in German', async () => {
    const hash = '#map=15.50/51.33200/12.33500/30.0/60.0&layers=buildings,ortsteile,op:2&stat=density&lang=de';
    const { page, context, problems } = await openViewer(browser, server.url, { hash });
    try {
      const view = await page.evaluate(() => {
        const m = window.__viewer.map;
        return { zoom: m.getZoom(), bearing: m.getBearing(), pitch: m.getPitch(), lng: m.getCenter().lng };
      });
      assert.ok(Math.abs(view.zoom - 15.5) < 0.01 && Math.abs(view.bearing - 30) < 0.1 && Math.abs(view.pitch - 60) < 0.1, JSON.stringify(view));
      const visible = (await page.evaluate(() => window.__viewer.entries())).filter((e) => e.visible).map((e) => e.key);
      assert.deepEqual(visible.sort(), ['buildings', 'op:2', 'ortsteile']);
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
      assert.equal(await page.locator('#layers-heading').textContent(), 'Ebenen');
      assert.equal(await page.locator('#district-stat').inputValue(), 'density');
      await page.click('#lang');
      assert.equal(await page.locator('#layers-heading').textContent(), 'Layers');
      assert.match(await page.evaluate(() => location.hash), /lang=en/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('searches districts and addresses, and opens a district profile with its chart', async () => {
    const { page, context, problems } = await openViewer(browser, server.url);
    try {
      await page.fill('#search-input', 'Plagwitz');
      await page.waitForSelector('#search-results [role=option]', { timeout: 10000 });
      const options = await page.locator('#search-results [role=option]').allTextContents();
      assert.ok(options.includes('Plagwitz'), options.join(' | '));
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#info[data-panel="district"] .chart-box svg', { timeout: 10000 });
      assert.equal(await page.locator('#info-title').textContent(), 'Plagwitz');
      await page.fill('#search-input', 'Karl-Heine-Straße 50');
      await page.waitForSelector('#search-results [role=option]', { timeout: 10000 });
      const addresses = await page.locator('#search-results [role=option]').allTextContents();
      assert.ok(addresses.some((a) => /Karl-Heine-Straße 50/.test(a)), addresses.join(' | '));
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('is usable by keyboard and on a phone-width screen', async () => {
    const { page, context, problems } = await openViewer(browser, server.url, { width: 375, height: 740 });
    try {
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll('button, input, select, a[href]')]
          .filter((el) => el.offsetParent !== null)
          .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || el.labels?.length || el.placeholder))
          .map((el) => el.outerHTML.slice(0, 80)),
      );
      assert.deepEqual(unnamed, [], 'every control has a name');
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no horizontal scrolling');
      // Tab reaches the layer button first; Enter opens the drawer with the tree.
      await page.keyboard.press('Tab'); // the skip link
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'toggle-sidebar');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, 'none', 'focus is visible');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.body.classList.contains('sidebar-open'));
      assert.ok(await page.locator('#layer-tree input').first().isVisible());
      const timebar = await page.locator('#timebar').boundingBox();
      assert.ok(timebar.x >= 0 && timebar.x + timebar.width <= 375, 'the time bar fits the screen');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
