// The viewer with the whole demo loaded, checked with axe-core's WCAG 2.1 A and AA rules in every
// state a visitor reaches: at start (every layer of the demo in the tree, the legends of the shown
// ones), with a sensor layer's list of sensors unfolded, a sensor's chart open, a district's
// profile open, and each side view the server offers (energy quarter, public transport,
// infrastructure, clean air) open; in English and in German on a phone-sized screen. Every
// violation of every state is reported at once, named by its state. The server is the demo the
// pytest wrapper (tests/web/test_viewer_a11y_browser.py) starts, named in URBANTWIN_VIEWER_URL.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { demoServer, launch, openViewer } from './browser.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const VIEWS = ['energy', 'transit', 'infrastructure', 'air'];
let browser;
let server;

before(async () => {
  server = await demoServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The violations axe-core finds on the page now, each named by `state`. */
async function violations(page, state) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
  const result = await page.evaluate(async (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG);
  return result.violations.map((v) => `${state}: ${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(', ')}`);
}

/** Every state of the viewer a visitor reaches, checked; what axe-core found, and the states seen. */
async function walk(page) {
  const found = [...(await violations(page, 'start'))];
  const seen = ['start'];
  const layers = await page.evaluate(() => window.__viewer.entries().length);
  assert.ok(layers > 5, `the whole demo is in the tree (${layers} entries)`);

  // A sensor layer's list unfolded, and a sensor's chart.
  const list = page.locator('#layer-tree details.sensor-list').first();
  if (await list.count()) {
    await list.locator('summary').click();
    found.push(...(await violations(page, 'sensor list unfolded')));
    await list.locator('button.sensor-link').first().click();
    await page.waitForFunction(() => !document.getElementById('info').hidden, null, { timeout: 30e3 });
    await page.waitForTimeout(1500); // the chart's data
    found.push(...(await violations(page, 'sensor chart')));
    seen.push('sensor list unfolded', 'sensor chart');
    await page.keyboard.press('Escape');
  }

  // A district's profile (as a click on a district or a search result opens it).
  const opened = await page.evaluate(async () => {
    const districts = window.__viewer.districts;
    const collection = districts?.collections?.[0];
    if (!collection) return false;
    const answer = await fetch(`ogcapi/collections/${encodeURIComponent(collection.id)}/items?limit=1`).then((r) => r.json());
    if (!answer.features?.length) return false;
    await districts.openProfile(collection.id, answer.features[0]);
    return true;
  });
  if (opened) {
    await page.waitForFunction(() => !document.getElementById('info').hidden, null, { timeout: 30e3 });
    await page.waitForTimeout(2000); // the profile's figures
    found.push(...(await violations(page, 'district profile')));
    seen.push('district profile');
    await page.keyboard.press('Escape');
  }

  // Each side view the server offers.
  for (const view of VIEWS) {
    const button = page.locator(`#${view}-open`);
    if (!(await button.isVisible())) continue;
    await button.click();
    await page.waitForFunction((name) => document.getElementById(`${name}-open`).getAttribute('aria-pressed') === 'true', view, { timeout: 60e3 });
    // Its first content: nothing is still marked busy in the view (or 20 s, on a loaded machine).
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 20e3 }).catch(() => {});
    await page.waitForTimeout(1500);
    found.push(...(await violations(page, `${view} view`)));
    seen.push(`${view} view`);
    await button.click(); // closed again
  }
  return { found, seen };
}

describe('the viewer with the whole demo, by axe-core', () => {
  it('has no WCAG 2.1 A/AA violation in any state (desktop, English)', async () => {
    const { page, context } = await openViewer(browser, server.url, { hash: '#lang=en' });
    try {
      const { found, seen } = await walk(page);
      console.log(`states checked: ${seen.join(', ')}`);
      assert.ok(seen.length >= 5, `the states checked: ${seen.join(', ')}`);
      assert.deepEqual(found, []);
    } finally {
      await context.close();
    }
  });

  it('has no WCAG 2.1 A/AA violation in any state (phone, German)', async () => {
    const { page, context } = await openViewer(browser, server.url, { width: 375, height: 740, hash: '#lang=de', locale: 'de-DE' });
    try {
      // On a phone the layer tree is behind its button.
      await page.click('#toggle-sidebar');
      const { found, seen } = await walk(page);
      console.log(`states checked: ${seen.join(', ')}`);
      assert.deepEqual(found, []);
    } finally {
      await context.close();
    }
  });
});
