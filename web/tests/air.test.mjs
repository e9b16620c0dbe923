// The clean-air view in the viewer: a platform holding a synthetic city (two districts with residents)
// and two synthetic stations with a year of values, served by the pytest wrapper
// tests/web/test_air_browser.py, which names it in URBANTWIN_VIEWER_URL. Stations in their index
// colour, a traffic light per station and standard, a station's exceedance calendar, the district
// exposure choropleth, the texts in English and German — and the map's own layers as they were after.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launch, openViewer } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
let browser;

before(async () => {
  assert.ok(process.env.URBANTWIN_VIEWER_URL, 'URBANTWIN_VIEWER_URL names a server holding the stations');
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

const light = (page, station, column) =>
  page.locator(`[data-testid="air-stations"] tbody tr:has-text("${station}") td:nth-child(${column + 3}) .air-light`).getAttribute('data-verdict');

describe('the clean-air view', () => {
  it('shows index colours, traffic lights, a calendar and the district exposure, in English and German', async () => {
    const { page, context, problems } = await openViewer(browser, url);
    try {
      const layers = () => page.evaluate(() => window.__viewer.entries().map((e) => [e.key, e.visible]));
      const before = await layers();
      const button = page.locator('#air-open');
      await button.waitFor({ state: 'visible', timeout: 10000 });
      assert.equal(await page.evaluate(() => performance.getEntriesByType('resource').some((e) => /\/air-.*\.js$/.test(e.name))), false, 'the air code is not loaded before the view opens');
      await button.click();
      try {
        await page.waitForSelector('#air [data-testid="air-stations"] tbody tr:has-text("Station P") [data-testid="air-index"] .air-swatch', { timeout: 180000 });
      } catch (error) {
        console.log(`the panel: ${(await page.locator('#air').innerHTML().catch(() => '(no panel)')).slice(0, 3000)}`);
        console.log(`problems: ${problems.join('; ')}`);
        throw error;
      }
      assert.equal(await page.locator('#air-title').textContent(), 'Clean air');
      assert.equal(await page.locator('[data-air="year"]').inputValue(), '2023');
      const heads = await page.locator('[data-testid="air-stations"] thead th').allTextContents();
      assert.equal(heads.length, 5);
      assert.match(heads.slice(2).join(' | '), /2008\/50.*\|.*2024\/2881.*\|.*WHO/);
      // P's annual PM10 mean (about 30) breaks 2024/2881's 20 and WHO's 15, not 2008/50's 40; Q meets all.
      assert.equal(await light(page, 'Station P', 0), 'met');
      assert.equal(await light(page, 'Station P', 1), 'exceeded');
      assert.equal(await light(page, 'Station P', 2), 'exceeded');
      for (const column of [0, 1, 2]) assert.equal(await light(page, 'Station Q', column), 'met');
      // The index of P's latest hour: NO2 25 µg/m³ is "fair" (EEA bands), and its dot has that colour.
      assert.match(await page.locator('[data-testid="air-stations"] tbody tr:has-text("Station P") [data-testid="air-index"]').textContent(), /fair/i);
      await page.waitForFunction(() => window.__viewer.map.queryRenderedFeatures({ layers: ['air::stations'] }).length === 2, null, { timeout: 20000 });
      const colours = await page.evaluate(() => window.__viewer.map.queryRenderedFeatures({ layers: ['air::stations'] }).map((f) => [f.properties.name, f.properties.colour]).sort());
      const swatch = await page.locator('[data-testid="air-stations"] tbody tr:has-text("Station P") [data-testid="air-index"] .air-swatch').evaluate((e) => e.style.background);
      assert.ok(colours[0][1].startsWith('#'), JSON.stringify(colours));
      assert.ok(swatch, 'the index swatch has a colour');
      assert.ok(await page.locator('[data-testid="air-bands"] li').count() >= 6, 'the EEA bands are listed');

      // The calendar of P under 2024/2881: the 10 PM10 days above 45 and 3 July (NO2 above 200).
      await page.click('[data-testid="air-stations"] tbody tr:has-text("Station P") button');
      await page.waitForSelector('[data-testid="air-calendar"]');
      // the district exposure comes after the stations' assessments (a slow server under load)
      await page.waitForSelector('[data-testid="air-exposure"] tbody tr', { timeout: 120000 });
      assert.equal(await page.locator('[data-testid="air-calendar"] .air-calendar .air-day').count(), 365);
      const exceeded = await page.locator('[data-testid="air-calendar"] .air-calendar .air-day.exceeded').evaluateAll((cells) => cells.map((c) => c.dataset.day));
      assert.deepEqual(exceeded, ['2023-01-01', '2023-01-02', '2023-01-03', '2023-01-04', '2023-01-05', '2023-01-06', '2023-01-07', '2023-01-08', '2023-01-09', '2023-01-10', '2023-07-03']);
      assert.match(await page.locator('[data-testid="air-summary"]').textContent(), /In 2023 the air at Station P \(synthetic\) exceeded a value of .*2024\/2881.* on 11 days\./);

      // The districts: the exposure of West lies nearer P's values, East nearer Q's; a choropleth.
      // NO2 is measured at P only: the same estimate everywhere; PM10 at both: West nearer P's 30-odd.
      await page.selectOption('[data-air="pollutant"]', 'pm10');
      const rows = await page.locator('[data-testid="air-exposure"] tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.dataset.district, Number(tr.children[1].textContent.replace(',', '.'))]));
      const exposure = Object.fromEntries(rows);
      assert.ok(exposure.west > exposure.east && exposure.east > 10, JSON.stringify(rows));
      const fill = await page.evaluate(() => JSON.stringify(window.__viewer.map.getPaintProperty('air::districts', 'fill-color')));
      assert.match(fill, /^\["match"/);

      // German: the title, the verdicts and the sentence.
      await page.click('#lang');
      assert.equal(await page.locator('#air-title').textContent(), 'Saubere Luft');
      assert.match(await page.locator('[data-testid="air-summary"]').textContent(), /an 11 Tagen/);
      assert.match(await page.locator('[data-testid="air-stations"]').textContent(), /überschritten/);
      const missing = await page.evaluate(() => window.__viewer.missingTexts());
      assert.deepEqual(missing, []);

      // Closing leaves the map's layers as they were.
      await page.click('.air-close');
      assert.equal(await page.evaluate(() => Boolean(window.__viewer.map.getLayer('air::stations') || window.__viewer.map.getLayer('air::districts'))), false);
      assert.deepEqual(await layers(), before);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
