// The page of one Digitalcampus event (event.html, served at participate/campus/events/<id>): its
// title, format, audience, date and time in the reader's language on the city's clocks, place (with a
// small map of the platform's own layers when the event has a location, and the place as text — the
// map's text alternative), organiser, registration, description, "add to calendar" (the event's
// iCalendar file), a link to share and the way back to the listing. The server writes the page's head
// for search engines (title, description, schema.org Event); this script keeps the title in the
// reader's language. An unknown or unpublished event gets the page that says so (the server answers
// 404). German and English (participation-strings.js); everything works with the keyboard.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import './participate.css';
import { describeCollections, sourceFor, styleLayersFor } from './layers.js';
import { formatNumber, initialLanguage, language, LANGUAGES, setCity, setLanguage, t, timeZone } from './i18n.js';
import './participation-strings.js';

const $ = (id) => document.getElementById(id);
const state = { event: null, missing: false, map: null, city: null };
/** Roles of the platform's layers drawn under the event's place (no points: the event is the point). */
const BACKGROUND = new Set(['boundary', 'districts', 'area', 'lines', 'buildings']);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** The event's id: the last part of the page's path. */
function eventId() {
  const parts = location.pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] || '');
}

const label = (texts) => (texts && (texts[language()] || texts.en || Object.values(texts)[0])) || '';

/** The page's own address in the current language: the link to share. */
function pageLink() {
  const link = new URL(location.href);
  link.hash = '';
  link.search = `?lang=${language()}`;
  return link.href;
}

function when(event) {
  if (!event.start) return t('pAnyTime');
  const zone = timeZone();
  const locale = language() === 'de' ? 'de-DE' : 'en-GB';
  const day = { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: zone };
  const clock = { hour: '2-digit', minute: '2-digit', timeZone: zone };
  const start = new Date(event.start);
  const end = event.end ? new Date(event.end) : null;
  const date = (d) => d.toLocaleDateString(locale, day);
  const time = (d) => d.toLocaleTimeString(locale, clock);
  const zoneName = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'long' }).formatToParts(start).find((p) => p.type === 'timeZoneName')?.value;
  let text;
  if (!end) text = t('eAt', { date: date(start), time: time(start) });
  else if (date(start) === date(end)) text = t('eFromTo', { date: date(start), start: time(start), end: time(end) });
  else text = t('eFromToDays', { start: `${date(start)}, ${time(start)}`, end: `${date(end)}, ${time(end)}` });
  return zoneName ? `${text} (${zoneName})` : text;
}

function placeText(place) {
  if (!place) return '';
  return [place.name, place.address].filter(Boolean).join(', ');
}

function render() {
  const article = $('event');
  if (state.missing) {
    document.title = `${t('eNotFound')} · Digitalcampus`;
    article.replaceChildren(
      el('h1', { id: 'event-title', text: t('eNotFound') }),
      el('p', { text: t('eNotFoundText') }),
      el('p', {}, el('a', { href: 'participate#campus', text: t('eBack') })),
    );
    return;
  }
  const event = state.event;
  const title = label(event.title);
  document.title = `${title} · Digitalcampus`;
  const facts = el('dl', { class: 'facts' });
  const fact = (key, ...value) => value.length && value[0] && facts.append(el('dt', { text: t(key) }), el('dd', {}, ...value));
  fact('pWhen', event.start ? el('time', { datetime: event.start, text: when(event) }) : t('pAnyTime'));
  const place = event.place || {};
  const online = place.online ? el('a', { href: place.online, rel: 'noopener', text: t('eOnline') }) : null;
  if (placeText(place) || online) fact('pWhere', ...[placeText(place), placeText(place) && online ? ' · ' : null, online].filter(Boolean));
  fact('pFormat', t(`pFormat_${event.format}`));
  fact('eAges', event.ages.map((a) => t(`pAge_${a}`)).join(', '));
  fact('eLevel', event.experience.map((x) => t(`pExperience_${x}`)).join(', '));
  fact('pOrganiser', event.organiser);
  fact('eSeries', event.series);
  const actions = el('p', { class: 'event-actions' });
  if (event.registration) actions.append(el('a', { class: 'button primary', href: event.registration, rel: 'noopener', id: 'register', text: t('pRegister') }));
  if (event.start) {
    actions.append(el('a', { class: 'button', id: 'add-to-calendar', href: `api/campus/events/${encodeURIComponent(event.id)}/ics?lang=${language()}`, download: `${event.id}.ics`, text: t('pEventCalendar') }));
  }
  const share = el('button', { type: 'button', class: 'button', id: 'share', text: t('eShare') });
  share.addEventListener('click', sharePage);
  actions.append(share);
  const shareStatus = el('p', { id: 'share-status', class: 'status', role: 'status' });
  const children = [
    el('p', { class: 'badge', text: `${t(`eKind_${event.kind}`)} · ${t(`pFormat_${event.format}`)}` }),
    el('h1', { id: 'event-title', text: title }),
    facts,
    actions,
    shareStatus,
  ];
  const description = label(event.description);
  if (description) children.push(el('h2', { text: t('eAbout') }), ...description.split(/\n{2,}/).map((para) => el('p', { class: 'event-text', text: para })));
  if (place.geometry) {
    const [lon, lat] = place.geometry.coordinates;
    const where = placeText(place) || t('eThePlace');
    children.push(
      el('h2', { text: t('eMap') }),
      el('div', { id: 'event-map', class: 'event-map', role: 'img', 'aria-label': t('eMapLabel', { place: where }) }),
      el('p', { id: 'event-map-text', class: 'muted small', text: t('eMapText', { place: where, lat: formatNumber(lat, 5), lon: formatNumber(lon, 5) }) }),
    );
  }
  if (event.synthetic) children.push(el('p', { class: 'muted small', text: t('pSyntheticEvent') }));
  children.push(el('p', {}, el('a', { href: 'participate#campus', text: t('eBack') })));
  state.map?.remove();
  state.map = null;
  article.replaceChildren(...children);
  if (place.geometry) drawMap(place.geometry.coordinates).catch(() => {});
}

async function drawMap([lon, lat]) {
  const map = new maplibregl.Map({
    container: 'event-map',
    style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }] },
    center: [lon, lat],
    zoom: 15,
    attributionControl: false,
    interactive: false, // a locator: the text beside it says where; the viewer is the map to explore
  });
  state.map = map;
  map.getCanvas().setAttribute('tabindex', '-1');
  map.getCanvas().setAttribute('aria-hidden', 'true');
  await new Promise((resolve) => map.once('load', resolve));
  if (state.map !== map) return;
  map.addControl(new maplibregl.AttributionControl({ compact: true }), 'bottom-right');
  const place = { type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: {} };
  map.addSource('place', { type: 'geojson', data: place });
  map.addLayer({ id: 'place', type: 'circle', source: 'place', paint: { 'circle-color': '#b7410e', 'circle-radius': 8, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
  $('event-map').dataset.loaded = 'true';
  // The platform's own layers beneath the place (its streets, districts, buildings), where it has them.
  const collections = await fetch('ogcapi/collections?f=json', { headers: { Accept: 'application/json' } }).then((r) => (r.ok ? r.json() : { collections: [] }));
  const described = (await describeCollections(collections, state.city)).filter((d) => BACKGROUND.has(d.role) && d.visible !== false);
  if (state.map !== map) return;
  for (const d of described) {
    map.addSource(`c:${d.id}`, sourceFor(d));
    for (const layer of styleLayersFor(d)) map.addLayer({ ...layer, layout: { ...(layer.layout || {}), visibility: 'visible' } }, 'place');
  }
}

async function sharePage() {
  const link = pageLink();
  const status = $('share-status');
  try {
    if (navigator.share) await navigator.share({ title: document.title, url: link });
    else {
      await navigator.clipboard.writeText(link);
      status.textContent = t('eLinkCopied', { link });
    }
  } catch {
    status.textContent = t('eLinkIs', { link });
  }
}

async function start() {
  const params = new URLSearchParams(location.search);
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('lang');
  const config = await fetch('api/viewer/config').then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  state.city = config.city || null;
  setCity(config.city);
  setLanguage(initialLanguage(fromHash || params.get('lang')));
  const langButton = $('lang');
  const labelLanguage = () => (langButton.textContent = (LANGUAGES.find((l) => l !== language()) || 'en').toUpperCase());
  labelLanguage();
  langButton.addEventListener('click', () => {
    setLanguage(LANGUAGES.find((l) => l !== language()) || 'en');
    labelLanguage();
    history.replaceState(null, '', `?lang=${language()}`);
    render();
  });
  const response = await fetch(`api/campus/events/${encodeURIComponent(eventId())}`, { headers: { Accept: 'application/json' } });
  if (response.status === 404) state.missing = true;
  else if (!response.ok) throw new Error((await response.json().catch(() => null))?.message || `${response.status}`);
  else state.event = await response.json();
  render();
  document.body.dataset.ready = 'true';
}

start().catch((error) => {
  document.body.dataset.ready = 'error';
  $('main').prepend(el('p', { class: 'error', role: 'alert', text: error.message }));
});
