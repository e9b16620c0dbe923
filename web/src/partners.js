// Partner cities' layers (connected twins): each OGC API partner the platform has registered
// (/api/remotes, kind `ogcapi`, those the visitor may see) is a group of its own in the layer tree,
// titled with the partner's name and showing whom the data is from and its licence; each of its
// collections is an entry, toggled like ours. Everything is read through this platform
// (/api/remotes/{name}/collections/{id}/items), never from the partner's server: the page asks no
// other host, and the platform's cache honours what the partner says about caching.
//
// A SensorThings partner has a group too, without entries of its own: what is mirrored from it joins
// the platform's sensors (local Datastreams that link back, with new values at each synchronisation),
// and its group says so, with when it was last synchronised.
//
// A partner's layer is drawn from GeoJSON (a partner offers no tiles we could rely on), bounded to
// LIMIT features, and kept live while shown: it is read again when the platform's answer says it
// may no longer be kept (its Cache-Control max-age, at least MIN_REFRESH_S), so a partner that
// serves live data is shown live. A partner that fails is said so in its group; ours go on.

import './partners-strings.js';
import { apiUrl, getJSON } from './api.js';
import { formatTime, t } from './i18n.js';
import { attributeTable, esc, html, openPanel, say } from './ui.js';

/** The features drawn of one partner layer: a layer for a map, not a download. */
export const LIMIT = 1000;
/** The shortest and the default interval (seconds) at which a shown partner layer is read again. */
export const MIN_REFRESH_S = 15;
export const DEFAULT_REFRESH_S = 300;
const COLOURS = ['#b7791f', '#805ad5', '#2c7a7b', '#c53030', '#2b6cb0', '#97266d'];
const SOURCE_PREFIX = 'partner:';
const POINTS = ['in', ['geometry-type'], ['literal', ['Point', 'MultiPoint']]];
const LINES = ['in', ['geometry-type'], ['literal', ['LineString', 'MultiLineString']]];
const AREAS = ['in', ['geometry-type'], ['literal', ['Polygon', 'MultiPolygon']]];

/** How many seconds an answer may be kept, from its Cache-Control (0 when it says nothing). */
export function maxAge(cacheControl) {
  const found = /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl || '');
  return found ? Number(found[1]) : 0;
}

export class Partners {
  constructor(map) {
    this.map = map;
    this.partners = []; // {remote, entries, error}
    this.timers = new Map();
  }

  /** Read the partners and their collections; a failing partner is noted, never thrown. */
  async load() {
    let remotes = [];
    try {
      remotes = ((await getJSON('api/remotes')).remotes || []).filter((r) => r.kind === 'ogcapi' || r.kind === 'sensorthings');
    } catch (error) {
      console.warn('partners not listed', error);
      return;
    }
    let colour = 0;
    this.partners = await Promise.all(
      remotes.map(async (remote) => {
        if (remote.kind === 'sensorthings') return { remote, entries: [], error: null };
        try {
          const answer = await getJSON(`api/remotes/${encodeURIComponent(remote.name)}/collections`);
          const entries = answer.collections.map((c) => ({
            key: `${SOURCE_PREFIX}${remote.name}:${c.id}`,
            kind: 'partner',
            role: 'partner',
            remote: remote.name,
            id: c.id,
            title: c.title,
            description: c.description,
            attribution: `${answer.attribution} (${answer.licence})`,
            color: COLOURS[colour++ % COLOURS.length],
            visible: false,
            bbox: null,
            countText: '',
            loaded: null,
          }));
          for (const entry of entries) entry.legend = () => this.legend(entry);
          return { remote, entries, error: null };
        } catch (error) {
          return { remote, entries: [], error: error.message };
        }
      }),
    );
  }

  entries() {
    return this.partners.flatMap((p) => p.entries);
  }

  /** The layer tree's groups: one per partner, titled with its name, noting its source and licence. */
  groups() {
    return this.partners.map(({ remote, entries, error }) => ({
      title: remote.title || remote.name,
      note: t('partnerSource', { attribution: remote.attribution, licence: remote.licence }),
      notice:
        remote.kind === 'sensorthings'
          ? remote.last_sync
            ? t(remote.follow ? 'partnerFollowed' : 'partnerMirrored', { time: formatTime(Date.parse(remote.last_sync)) })
            : t('partnerNotMirrored')
          : null,
      error: error
        ? t('partnerUnreachable', { message: error })
        : remote.health === 'failing' && remote.last_error
          ? t('partnerFailing', { time: formatTime(Date.parse(remote.last_checked)), message: remote.last_error })
          : null,
      partner: remote.name,
      entries,
    }));
  }

  /** Add every partner layer (empty until first shown) beneath `beforeId`; shown ones are read. */
  addLayers(beforeId) {
    for (const entry of this.entries()) {
      const source = this.sourceOf(entry);
      this.map.addSource(source, { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, attribution: esc(entry.attribution) });
      const base = { source, metadata: { entry: entry.key }, layout: { visibility: entry.visible ? 'visible' : 'none' } };
      this.map.addLayer({ ...base, id: `${entry.key}::fill`, type: 'fill', filter: AREAS, paint: { 'fill-color': entry.color, 'fill-opacity': 0.25 } }, beforeId);
      this.map.addLayer({ ...base, id: `${entry.key}::line`, type: 'line', filter: ['any', LINES, AREAS], paint: { 'line-color': entry.color, 'line-width': 2 } }, beforeId);
      this.map.addLayer(
        {
          ...base,
          id: `${entry.key}::circle`,
          type: 'circle',
          filter: POINTS,
          paint: { 'circle-color': entry.color, 'circle-radius': 5, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1 },
        },
        beforeId,
      );
      if (entry.visible) this.shown(entry, true);
    }
  }

  sourceOf(entry) {
    return `${SOURCE_PREFIX}${entry.remote}:${entry.id}`;
  }

  /** A partner layer switched on (read now, then kept live) or off (no more reading). */
  shown(entry, visible) {
    clearTimeout(this.timers.get(entry.key));
    this.timers.delete(entry.key);
    if (visible) this.refresh(entry);
  }

  async refresh(entry) {
    const url = apiUrl(`api/remotes/${encodeURIComponent(entry.remote)}/collections/${encodeURIComponent(entry.id)}/items?limit=${LIMIT}`);
    let again = DEFAULT_REFRESH_S;
    try {
      const response = await fetch(url, { headers: { Accept: 'application/geo+json' } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.message || `${response.status}`);
      again = Math.max(MIN_REFRESH_S, maxAge(response.headers.get('cache-control')) || DEFAULT_REFRESH_S);
      this.map.getSource(this.sourceOf(entry))?.setData(body);
      entry.loaded = Date.now();
      entry.refreshSeconds = again;
      entry.countText = t('partnerFeatures', { n: body.features.length });
      entry.error = null;
    } catch (error) {
      entry.error = error.message;
      say(t('partnerLayerFailed', { title: entry.title, message: error.message }), 0);
    }
    this.onChange?.(entry);
    if (entry.visible) this.timers.set(entry.key, setTimeout(() => this.refresh(entry), again * 1000));
  }

  /** The legend's lines of a partner entry: whom from, under which licence, as of when. */
  legend(entry) {
    const lines = [`<p class="legend-source">${esc(entry.attribution)}</p>`];
    if (entry.loaded) lines.push(`<p class="legend-source" data-testid="partner-as-of">${esc(t('partnerAsOf', { time: formatTime(entry.loaded), s: entry.refreshSeconds }))}</p>`);
    if (entry.error) lines.push(`<p class="error">${esc(entry.error)}</p>`);
    return lines.join('');
  }

  owns(hit) {
    return typeof hit.source === 'string' && hit.source.startsWith(SOURCE_PREFIX);
  }

  /** The panel of a partner's feature: its attributes, and whom it is from under which licence. */
  inspect(hit) {
    const entry = this.entries().find((e) => this.sourceOf(e) === hit.source);
    if (!entry) return;
    const names = ['name', 'title', 'bezeichnung'];
    const name = names.map((n) => hit.properties?.[n]).find((v) => typeof v === 'string' && v) || String(hit.id ?? entry.title);
    openPanel({
      kind: `${t('partnerFeature')} · ${entry.title}`,
      title: name,
      body: [attributeTable(hit.properties), html(`<p class="legend-source">${esc(entry.attribution)}</p>`)],
      panel: 'partner',
    });
  }

  /** Stop reading (the page leaves). */
  stop() {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
