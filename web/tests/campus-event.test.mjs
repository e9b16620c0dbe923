// The page of one Digitalcampus event in Chromium: from the listing to the event's page (title,
// format, audience, date and time on the city's clocks in the reader's language, place with its map
// and text, organiser, registration, description), its head for search engines (title, description,
// canonical link, schema.org Event as JSON-LD), its iCalendar file downloaded and parsed (the RFC 5545
// fields match the event), the link to share, the page of an unknown and of an unpublished event
// (404, in German and English), and axe-core's WCAG 2.1 A/AA rules on a desktop and a phone-sized
// screen. The server is the one the pytest wrapper (tests/web/test_participation_browser.py) starts and
// names in URBANTWIN_VIEWER_URL, with the administrator token in URBANTWIN_ADMIN_TOKEN.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { launch, watchContentSecurityPolicy } from './browser.mjs';

const url = (process.env.URBANTWIN_VIEWER_URL || '').replace(/\/?$/, '/');
const token = process.env.URBANTWIN_ADMIN_TOKEN || '';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const EVENT = {
  id: 'open-data-day',
  kind: 'event',
  title: { de: 'Tag der offenen Daten', en: 'Open data day' },
  description: {
    de: 'Wir zeigen, wie man mit den offenen Daten der Stadt Karten baut.\n\nFür alle, ohne Vorkenntnisse.',
    en: 'We show how to build maps from the city’s open data.\n\nFor everyone, no experience needed.',
  },
  format: 'workshop',
  ages: ['youth', 'adults', 'seniors'],
  experience: ['beginner', 'intermediate'],
  start: '2027-06-03T14:00:00Z',
  end: '2027-06-03T17:30:00Z',
  place: { name: 'City library', address: 'Square 1', geometry: { type: 'Point', coordinates: [12.3731, 51.3397] } },
  organiser: 'Digital-city department',
  registration: 'https://example.org/register/open-data-day',
  series: 'Digital festival',
  synthetic: true,
};
const DRAFT = { ...EVENT, id: 'not-yet-announced', title: { de: 'Noch geheim', en: 'Still secret' }, published: false };
let browser;

async function put(event) {
  const answer = await fetch(`${url}api/campus/events/${event.id}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(event),
  });
  assert.equal(answer.status, 200, `campus event ${event.id}: ${await answer.text()}`);
}

before(async () => {
  assert.ok(url && token, 'URBANTWIN_VIEWER_URL and URBANTWIN_ADMIN_TOKEN name the server and its administrator');
  browser = await launch();
  await put(EVENT);
  await put(DRAFT);
});

after(async () => {
  await browser?.close();
});

async function open(path, { width = 1280, height = 900, locale = 'en-GB' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await watchContentSecurityPolicy(page, problems);
  const response = await page.goto(`${url}${path}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', null, { timeout: 60e3 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true', `${path} loaded`);
  return { context, page, problems, response };
}

async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG);
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

/** The VEVENTs of an iCalendar text as {NAME: value} (RFC 5545: lines unfolded, parameters dropped, text unescaped). */
function parseCalendar(text) {
  assert.match(text, /^BEGIN:VCALENDAR\r\n/);
  assert.ok(text.split('\r\n').every((line) => new TextEncoder().encode(line).length <= 75), 'lines are folded at 75 octets');
  const lines = text.replace(/\r\n[ \t]/g, '').split('\r\n').filter(Boolean);
  const events = [];
  let current = null;
  for (const line of lines) {
    if (line === 'BEGIN:VEVENT') current = {};
    else if (line === 'END:VEVENT') (events.push(current), (current = null));
    else if (current) {
      const colon = line.search(/:(?=(?:[^"]*"[^"]*")*[^"]*$)/);
      const [name, ...parameters] = line.slice(0, colon).split(';');
      const value = line.slice(colon + 1).replace(/\\n/gi, '\n').replace(/\\([,;\\])/g, '$1');
      current[name] = value;
      if (parameters.length) current[`${name};`] = parameters.join(';');
    }
  }
  return events;
}

describe('a page per Digitalcampus event', () => {
  it('leads from the listing to the event’s page, with everything a reader needs', async () => {
    const { page, context, problems } = await open('participate#lang=en');
    try {
      await page.locator('[data-event-page="open-data-day"]').click();
      await page.waitForURL(/participate\/campus\/events\/open-data-day$/);
      await page.waitForFunction(() => document.body.dataset.ready === 'true');
      assert.equal(await page.locator('h1').textContent(), 'Open data day');
      const text = await page.locator('#event').textContent();
      // 14:00 UTC is 16:00 on the city's clocks in June (the platform's default zone without a profile).
      assert.match(text, /Thursday, 3 June 2027, 16:00 to 19:30 \(Central European Summer Time\)/);
      assert.match(text, /City library, Square 1/);
      assert.match(text, /Format.*workshop/s);
      assert.match(text, /Age groups.*young people, adults, older people/s);
      assert.match(text, /Experience.*beginners, with some experience/s);
      assert.match(text, /Organiser.*Digital-city department/s);
      assert.match(text, /We show how to build maps/);
      assert.equal(await page.locator('#register').getAttribute('href'), EVENT.registration);
      // The map of the place, and the place as text (the map's alternative).
      assert.match(await page.locator('#event-map').getAttribute('aria-label'), /City library, Square 1/);
      assert.match(await page.locator('#event-map-text').textContent(), /latitude 51\.3397, longitude 12\.3731/);
      await page.waitForFunction(() => document.getElementById('event-map').dataset.loaded === 'true', null, { timeout: 30e3 });
      // Back to the listing.
      assert.match(await page.locator('a', { hasText: 'All offers and events' }).first().getAttribute('href'), /participate#campus$/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('tells search engines what the event is', async () => {
    const { page, context, response } = await open('participate/campus/events/open-data-day?lang=en');
    try {
      assert.equal(response.status(), 200);
      const head = await response.text(); // as the server sent it, before any script ran
      assert.match(head, /<title>Open data day · Digitalcampus<\/title>/);
      assert.match(head, /<meta name="description" content="We show how to build maps from the city’s open data\. For everyone, no experience needed\.">/);
      assert.match(head, /<link rel="canonical" href="http:\/\/127\.0\.0\.1:\d+\/participate\/campus\/events\/open-data-day">/);
      const data = JSON.parse(await page.locator('script[type="application/ld+json"]').textContent());
      assert.equal(data['@type'], 'Event');
      assert.equal(data.name, 'Open data day');
      assert.equal(data.startDate, EVENT.start);
      assert.equal(data.endDate, EVENT.end);
      assert.equal(data.location.name, 'City library');
      assert.deepEqual(data.location.geo, { '@type': 'GeoCoordinates', latitude: 51.3397, longitude: 12.3731 });
      assert.equal(data.organizer.name, 'Digital-city department');
      assert.equal(data.offers.url, EVENT.registration);
      assert.equal(data.eventAttendanceMode, 'https://schema.org/OfflineEventAttendanceMode');
      assert.equal(await page.title(), 'Open data day · Digitalcampus');
    } finally {
      await context.close();
    }
  });

  it('adds the event to a calendar: its iCalendar file downloaded and parsed', async () => {
    const { page, context, problems } = await open('participate/campus/events/open-data-day?lang=en');
    try {
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#add-to-calendar').click()]);
      assert.equal(download.suggestedFilename(), 'open-data-day.ics');
      const [entry, ...more] = parseCalendar(readFileSync(await download.path(), 'utf8'));
      assert.equal(more.length, 0);
      assert.equal(entry.UID, 'open-data-day@127.0.0.1');
      assert.equal(entry.SUMMARY, 'Open data day');
      assert.equal(entry.DTSTART, '20270603T140000Z');
      assert.equal(entry.DTEND, '20270603T173000Z');
      assert.equal(entry.LOCATION, 'City library, Square 1');
      assert.equal(entry.GEO, '51.3397;12.3731');
      assert.equal(entry.URL, EVENT.registration);
      assert.match(entry.DESCRIPTION, /^We show how to build maps.*\n\nFor everyone.*\n\nhttps:\/\/example\.org\/register\/open-data-day$/s);
      assert.equal(entry['ORGANIZER;'], 'CN="Digital-city department"');
      assert.equal(entry.CATEGORIES, 'workshop');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('gives a link to share', async () => {
    const { page, context } = await open('participate/campus/events/open-data-day?lang=en');
    try {
      await context.grantPermissions(['clipboard-read', 'clipboard-write']);
      await page.locator('#share').click();
      await page.waitForFunction(() => document.getElementById('share-status').textContent !== '');
      const link = `${url}participate/campus/events/open-data-day?lang=en`;
      assert.match(await page.locator('#share-status').textContent(), new RegExp(link.replace(/[.?]/g, '\\$&')));
    } finally {
      await context.close();
    }
  });

  it('reads in German, on the city’s clocks', async () => {
    const { page, context, response } = await open('participate/campus/events/open-data-day?lang=de', { locale: 'de-DE' });
    try {
      assert.match(await response.text(), /<html lang="de">[\s\S]*<title>Tag der offenen Daten · Digitalcampus<\/title>/);
      assert.equal(await page.locator('h1').textContent(), 'Tag der offenen Daten');
      const text = await page.locator('#event').textContent();
      assert.match(text, /Donnerstag, 3\. Juni 2027, 16:00 bis 19:30 Uhr \(Mitteleuropäische Sommerzeit\)/);
      assert.match(text, /Format.*Workshop/s);
      assert.match(text, /Wir zeigen, wie man/);
      assert.equal(await page.locator('#add-to-calendar').textContent(), 'In meinen Kalender');
      assert.match(await page.locator('#add-to-calendar').getAttribute('href'), /lang=de$/);
      // The language switch changes the page and its title.
      await page.locator('#lang').click();
      assert.equal(await page.locator('h1').textContent(), 'Open data day');
      assert.equal(await page.title(), 'Open data day · Digitalcampus');
    } finally {
      await context.close();
    }
  });

  for (const [path, lang, heading, words] of [
    ['participate/campus/events/no-such-event?lang=en', 'en', 'Event not found', /no such event, or it is not published/],
    ['participate/campus/events/no-such-event?lang=de', 'de', 'Veranstaltung nicht gefunden', /gibt es nicht, oder sie ist nicht veröffentlicht/],
    ['participate/campus/events/not-yet-announced?lang=en', 'en', 'Event not found', /no such event/],
  ]) {
    it(`says so for an unknown or unpublished event (${path.split('/').pop()})`, async () => {
      const { page, context, response } = await open(path, { locale: lang === 'de' ? 'de-DE' : 'en-GB' });
      try {
        assert.equal(response.status(), 404);
        const head = await response.text();
        assert.match(head, /<meta name="robots" content="noindex">/);
        assert.doesNotMatch(head, /Still secret|Noch geheim|ld\+json/);
        assert.equal(await page.locator('h1').textContent(), heading);
        assert.match(await page.locator('#event').textContent(), words);
        assert.match(await page.title(), new RegExp(heading));
        assert.deepEqual(await axe(page), []);
      } finally {
        await context.close();
      }
    });
  }

  for (const [name, size, lang] of [
    ['desktop, English', { width: 1280, height: 900 }, 'en'],
    ['phone, German', { width: 375, height: 740 }, 'de'],
  ]) {
    it(`passes axe-core's WCAG 2.1 AA rules and serves the keyboard (${name})`, async () => {
      const { page, context } = await open(`participate/campus/events/open-data-day?lang=${lang}`, { ...size, locale: lang === 'de' ? 'de-DE' : 'en-GB' });
      try {
        await page.waitForFunction(() => document.getElementById('event-map')?.dataset.loaded === 'true', null, { timeout: 30e3 });
        assert.deepEqual(await axe(page), []);
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing wider than the screen');
        const reached = new Set();
        for (let i = 0; i < 20; i += 1) {
          await page.keyboard.press('Tab');
          reached.add(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent));
        }
        for (const id of ['lang', 'register', 'add-to-calendar', 'share']) assert.ok(reached.has(id), `${id} is reached with Tab`);
      } finally {
        await context.close();
      }
    });
  }
});
