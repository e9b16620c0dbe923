// "What it takes" in the viewer's energy view: a platform holding the energy tests' small quarter,
// served by the pytest wrapper tests/web/test_energy_browser.py, which names it in
// URBANTWIN_VIEWER_URL with an administrator token in URBANTWIN_ADMIN_TOKEN. The targets chosen with
// the sliders by keyboard, a plan refused without a token, then submitted and followed to its end;
// its portfolio (totals, targets met or missed, what binds, the measures by count and cost), the
// buildings coloured by their measure with a legend, a building's measures and costs, axe-core's
// WCAG 2.1 AA rules, and the German texts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { launch, openViewer } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
const token = process.env.URBANTWIN_ADMIN_TOKEN || '';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
let browser;

before(async () => {
  assert.ok(url && token, 'URBANTWIN_VIEWER_URL and URBANTWIN_ADMIN_TOKEN name the server and its administrator');
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG);
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('what it takes', () => {
  it('plans the targets chosen, follows the plan and shows its portfolio, on the map too', async () => {
    const { page, context, problems } = await openViewer(browser, url);
    try {
      await page.click('#energy-open');
      await page.waitForSelector('#energy-plan-form');
      assert.match(await page.locator('.energy-plan').textContent(), /No plan has been computed yet/);
      // The SPARCS targets by default; a slider moved by keyboard says its value.
      assert.equal(await page.locator('#plan-co2-value').textContent(), '−64 %');
      await page.focus('#plan-co2');
      await page.keyboard.press('ArrowLeft');
      assert.equal(await page.locator('#plan-co2-value').textContent(), '−65 %');
      await page.keyboard.press('ArrowRight');
      // A target can be left out (its slider then rests), and taken in again.
      await page.click('#plan-on-final_energy');
      assert.equal(await page.locator('#plan-final_energy').isDisabled(), true);
      await page.click('#plan-on-final_energy');
      assert.equal(await page.locator('#plan-final_energy').isDisabled(), false);
      assert.deepEqual(await axe(page), [], 'axe-core with the form');

      // Without a token the plan is refused, saying why.
      await page.click('#plan-submit');
      await page.waitForSelector('.plan-result [role="alert"]');
      assert.match(await page.locator('.plan-result [role="alert"]').textContent(), /not accepted.*token/);

      // With one, submitted by keyboard: queued, followed, then the portfolio.
      await page.fill('#plan-budget', '0');
      await page.fill('#plan-token', token);
      await page.focus('#plan-token');
      await page.keyboard.press('Enter');
      await page.waitForSelector('[data-testid="plan-verdict"]', { timeout: 180e3 });
      const plans = await (await fetch(`${url}api/energy/plans`)).json();
      assert.equal(plans.plans.length, 1);
      const plan = plans.plans[0];
      assert.deepEqual(plan.request.targets, { co2: -0.64, renewable: 0.65, final_energy: -0.53 });
      const verdict = await page.locator('[data-testid="plan-verdict"]').textContent();
      assert.equal(verdict, plan.portfolio.met ? 'All targets are met by this portfolio.' : 'The best portfolio misses at least one target.');
      const targets = await page.locator('[data-testid="plan-targets"] tbody tr').allTextContents();
      assert.equal(targets.length, 3);
      assert.match(targets[0], /CO₂ against the baseline\s*−64 %/);
      for (const [row, target] of targets.map((r, i) => [r, plan.portfolio.targets[i]])) {
        assert.match(row, target.met ? /target met/ : /missed by [\d.]+ percentage points/);
      }
      const binding = await page.locator('[data-testid="plan-binding"] li').allTextContents();
      assert.ok(binding.length >= 1);
      if (!plan.portfolio.binding.length) assert.deepEqual(binding, ['Nothing: the targets are met at least cost.']);
      const measures = await page.locator('[data-testid="plan-measures"]').textContent();
      assert.match(measures, /Heat pump\s*\d+ heat pumps?/);
      assert.match(measures, /EV smart charging\s*\d+ charging points?/);
      assert.match(measures, /Investment\s*[\d.,]+ (M)?€/);
      assert.match(await page.locator('[data-testid="plan-investment"]').textContent(), /€/);

      // On the map: the plan's buildings, coloured by their heat supply, with a legend.
      assert.equal(await page.locator('#energy-plan-map').getAttribute('aria-pressed'), 'true');
      await page.waitForFunction((collection) => window.__viewer.map.getLayer('energy::extrusion')?.source === `energy:${collection}`, plan.collection, { timeout: 20000 });
      assert.match(await page.locator('.energy-legend').textContent(), /Heat supply\s*simulated\s*Heat pump\s*District heating\s*Gas boiler stays/);
      await page.selectOption('#energy-plan-measure', 'pv');
      assert.match(await page.locator('.energy-legend').textContent(), /PV with battery/);
      assert.equal(await page.evaluate(() => JSON.stringify(window.__viewer.map.getPaintProperty('energy::extrusion', 'fill-extrusion-color')).includes('plan_pv')), true);

      // A building of the plan: its measures and their costs.
      const items = await (await fetch(new URL(`ogcapi/collections/${plan.collection}/items?limit=1`, url))).json();
      const ring = items.features[0].geometry.coordinates[0];
      const centre = [ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length];
      await page.evaluate((c) => window.__viewer.map.jumpTo({ center: c, zoom: 18, pitch: 0, bearing: 0 }), centre);
      await page.waitForFunction(() => window.__viewer.map.queryRenderedFeatures({ layers: ['energy::extrusion'] }).length > 0, null, { timeout: 30000 });
      const point = await page.evaluate((c) => window.__viewer.map.project(c), centre);
      const box = await page.locator('#map').boundingBox();
      await page.mouse.click(box.x + point.x, box.y + point.y);
      await page.waitForSelector('#info [data-testid="plan-building"]', { timeout: 10000 });
      const facts = await page.locator('#info [data-testid="plan-building"]').textContent();
      assert.match(facts, /Refurbishment.*Heat supply.*PV.*Home battery.*EV smart charging.*Investment/s);
      assert.deepEqual(await axe(page), [], 'axe-core with the portfolio and a building');

      // In German, plurals included.
      await page.click('#lang');
      await page.waitForFunction(() => document.querySelector('#energy-plan-title')?.textContent.startsWith('Was es braucht'));
      assert.match(await page.locator('[data-testid="plan-measures"]').textContent(), /Wärmepumpe/);
      assert.match(await page.locator('#energy-plan-form').textContent(), /Ziele gegenüber dem Ausgangszustand/);
      assert.deepEqual(await page.evaluate(() => window.__viewer.missingTexts()), [], 'texts a language lacks');
      assert.deepEqual(problems.filter((p) => !/401|Unauthorized/.test(p)), []);
    } finally {
      await context.close();
    }
  });
});
