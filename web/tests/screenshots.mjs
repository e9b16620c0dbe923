// The README's screenshots of the demo: 3D buildings, a sensor's chart, a district profile, and the
// energy quarter (once the demo's energy runs are done; skipped with a notice where the server has no
// energy API or no run).
//   node web/tests/screenshots.mjs     (a fresh demo on a free port; writes docs/img/viewer-*.png)

import { join } from 'node:path';
import { demoServer, launch, openViewer, ROOT } from './browser.mjs';

const OUT = join(ROOT, 'docs/img');
const server = await demoServer();
const browser = await launch();

async function shot(name, hash, act) {
  const { page, context, problems } = await openViewer(browser, server.url, { hash, width: 1280, height: 760 });
  await page.waitForTimeout(800);
  if (act) await act(page);
  await page.waitForFunction(() => window.__viewer.map.loaded());
  await page.waitForTimeout(400);
  await page.screenshot({ path: join(OUT, `viewer-${name}.png`) });
  if (problems.length) throw new Error(problems.join('\n'));
  await context.close();
  console.log(`docs/img/viewer-${name}.png`);
}

async function click(page, lngLat) {
  const point = await page.evaluate((ll) => window.__viewer.map.project(ll), lngLat);
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
}

try {
  await shot('3d-buildings', '#map=15.60/51.33050/12.33350/-28.0/62.0&layers=buildings,city-boundary,ortsteile,street_trees,ev-charging,op:8');
  await shot('sensor-chart', '#map=14.20/51.33300/12.33600/-18.0/50.0&layers=buildings,city-boundary,ortsteile,op:2', async (page) => {
    const point = await page.evaluate(() => window.__viewer.sensorScreenPoint(2));
    const box = await page.locator('#map').boundingBox();
    await page.mouse.click(box.x + point.x, box.y + point.y);
    await page.waitForSelector('.chart-box svg');
    await page.click('[data-window="week"]');
    await page.waitForSelector('.chart-box svg');
  });
  await shot('district-profile', '#map=12.30/51.33500/12.38500/0.0/35.0&layers=buildings,city-boundary,ortsteile&stat=density&lang=de', async (page) => {
    await click(page, [12.3725, 51.3215]); // Südvorstadt
    await page.waitForSelector('#info[data-panel="district"] .chart-box svg');
  });
  await energyShot();
} finally {
  await browser.close();
  await server.close();
}

/** The energy view with two scenarios side by side, after waiting (up to 5 minutes) for the runs. */
async function energyShot() {
  const runsUrl = new URL('api/energy/runs', server.url);
  const deadline = Date.now() + 300e3;
  for (;;) {
    const response = await fetch(runsUrl);
    if (!response.ok) return console.log(`no energy screenshot: GET /api/energy/runs answered ${response.status}`);
    const { runs } = await response.json();
    if (!runs.length) return console.log('no energy screenshot: the server has no energy runs');
    if (runs.every((r) => r.status === 'done' || r.status === 'failed')) break;
    if (Date.now() > deadline) return console.log('no energy screenshot: the runs are not done after 5 minutes');
    await new Promise((r) => setTimeout(r, 3000));
  }
  await shot('energy', '#map=14.30/51.33350/12.31600/-20.0/55.0&layers=buildings,city-boundary,ortsteile', async (page) => {
    await page.click('#energy-open');
    await page.waitForSelector('#energy [data-testid="energy-kpis"]');
    const other = await page.evaluate(() => [...document.querySelectorAll('#energy-compare option')].map((o) => o.value).find((v) => v && v !== document.querySelector('#energy-run').value));
    if (other) await page.selectOption('#energy-compare', other);
    await page.waitForSelector('.energy-column [data-chart="daily"] polyline');
    await page.waitForFunction(() => window.__viewer.map.getLayer('energy::extrusion') && window.__viewer.map.areTilesLoaded());
  });
}
