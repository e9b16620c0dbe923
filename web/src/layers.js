// The layer tree: one entry per collection of the platform's OGC API (drawn from its vector tiles) and
// one per SensorThings ObservedProperty (the sensor locations, coloured by value). Nothing here names a
// collection: how a collection is drawn follows from its geometry, its keywords and its properties, so
// a city that publishes other collections gets them in the tree with a sensible look and a legend.

import { apiUrl, getJSON } from './api.js';
import { formatNumber, t, unitText } from './i18n.js';

const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Colours of point layers by theme keyword; others take the palette in order. */
const THEMES = [
  { match: /tree|green|baum/, color: '#3c8d40', radius: [13, 1.6, 17, 4.5], on: true },
  { match: /charging|e-mobility|lade/, color: '#7a3fb0', radius: [10, 3, 16, 7], on: true },
  { match: /wlan|wifi|freifunk|5g|lora/, color: '#0b7f86', radius: [10, 2.5, 16, 6], on: false },
  { match: /stop|public transport|gtfs|transit/, color: '#c8641b', radius: [11, 2, 16, 6], on: false },
];
const PALETTE = ['#2b6cb0', '#b83280', '#2f855a', '#c05621', '#6b46c1', '#2c7a7b'];

/** Building height ramp (metres → colour) and the colour of buildings of unknown height. */
export const HEIGHT_RAMP = [
  [0, '#e3e6ea'],
  [10, '#c5ccd7'],
  [20, '#9ea9bb'],
  [40, '#6d7b95'],
  [80, '#46536d'],
];
const HEIGHT_UNKNOWN = '#ece6da';
const DEFAULT_HEIGHT = 6; // metres drawn for a building whose height is not known
const BUILDING_HEIGHT = ['to-number', ['coalesce', ['get', 'height'], ['get', 'height_m']], 0];
const SELECTED = ['boolean', ['feature-state', 'selected'], false];

/** A building's colour: orange when picked; else, where `byId` ([id, colour, …]) names it, that colour
 * (e.g. the mean of the sensors inside it); else by its height. */
export function buildingColor(byId = []) {
  const byHeight = [['>', BUILDING_HEIGHT, 0], ['interpolate', ['linear'], BUILDING_HEIGHT, ...HEIGHT_RAMP.flat()], HEIGHT_UNKNOWN];
  if (!byId.length) return ['case', SELECTED, '#f6ad55', ...byHeight];
  return ['case', SELECTED, '#f6ad55', ['match', ['to-string', ['get', 'id']], ...byId, ['case', ...byHeight]]];
}

/** Sensor value ramp (low → high), from the domain's 0 to its top. */
export const VALUE_RAMP = ['#2b83ba', '#80bfac', '#e6f598', '#fdae61', '#d7191c'];
export const NO_VALUE = '#9aa0a6';

/** How a district collection names its population per year, from the city's profile
 * (`population_{year}`): the year of a property's name (or null), and the name of a year's. */
export function populationKeys(pattern) {
  if (!pattern || !pattern.includes('{year}')) return null;
  const [prefix, suffix] = pattern.split('{year}');
  return {
    year: (key) => {
      if (!key.startsWith(prefix) || !key.endsWith(suffix)) return null;
      const middle = key.slice(prefix.length, key.length - suffix.length);
      return /^\d{4}$/.test(middle) ? Number(middle) : null;
    },
    key: (year) => `${prefix}${year}${suffix}`,
  };
}

/** A collection of the energy quarter's simulated per-building results. */
export const isEnergyCollection = (id) => /^energy-/.test(id);

/** What the viewer knows of each collection: geometry, size, role, and how it is drawn. */
export async function describeCollections(document, city = null) {
  // The energy quarter's per-building results (`energy-<scenario>`) are drawn by the energy view
  // (energy.js), not as layers of their own: they are the same buildings again.
  const tiled = document.collections.filter(
    (c) =>
      !isEnergyCollection(c.id) &&
      (c.links || []).some((l) => /tilesets-vector$/.test(l.rel) || l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector'),
  );
  // One feature of each collection tells its geometry type, properties and size (numberMatched);
  // index.html has usually asked for them already.
  const early = (await window.__probes) || {};
  const probes = await Promise.all(
    tiled.map((c) =>
      (early[c.id]
        ? early[c.id].then((r) => (r.ok ? r.json() : null))
        : getJSON(`ogcapi/collections/${encodeURIComponent(c.id)}/items`, { params: { limit: 1 } })
      ).catch(() => null),
    ),
  );
  const described = tiled.map((c, i) => describe(c, probes[i], city)).filter(Boolean);
  // The largest building collection is shown at start; others (other sources of the same buildings,
  // say a LoD1 model of one district) are there to switch on.
  const buildings = described.filter((d) => d.role === 'buildings').sort((a, b) => b.count - a.count);
  buildings.forEach((d, i) => (d.visible = i === 0));
  const districts = described.filter((d) => d.role === 'districts').sort((a, b) => b.count - a.count);
  districts.forEach((d, i) => (d.visible = i === 0));
  let colour = 0;
  for (const d of described) {
    if (d.geom === 'point' && !d.color) d.color = PALETTE[colour++ % PALETTE.length];
  }
  return described;
}

function describe(collection, probe, city) {
  const feature = probe?.features?.[0];
  if (!feature?.geometry) return null; // empty collection: nothing to draw
  const type = feature.geometry.type.replace('Multi', '');
  const geom = type === 'Polygon' ? 'polygon' : type === 'LineString' ? 'line' : type === 'Point' ? 'point' : null;
  if (!geom) return null;
  const words = [collection.id, collection.title, ...(collection.keywords || [])].join(' ').toLowerCase();
  // The city's profile says which collections are its districts and how they name their properties.
  const spec = (city?.districts || []).find((s) => s.collection === collection.id) || null;
  const population = populationKeys(spec?.populationProperty);
  const years = population
    ? Object.keys(feature.properties || {})
        .map(population.year)
        .filter((y) => y !== null)
        .sort((a, b) => a - b)
    : [];
  const d = {
    id: collection.id,
    key: collection.id,
    kind: 'collection',
    title: collection.title || collection.id,
    description: collection.description || '',
    attribution: collection.attribution || '',
    license: collection.license || '',
    bbox: collection.extent?.spatial?.bbox?.[0] || null,
    count: probe.numberMatched ?? null,
    geom,
    years,
    populationKey: population?.key || null,
    nameProperty: spec?.nameProperty || 'name',
    label: spec?.label || null,
    hasArea: feature.properties && 'area_km2' in feature.properties,
    visible: false,
  };
  if (geom === 'polygon' && /building|gebäude/.test(words)) d.role = 'buildings';
  else if (geom === 'polygon' && spec) d.role = 'districts';
  else if (geom === 'polygon' && /boundary|grenze/.test(words)) {
    d.role = 'boundary';
    d.visible = true;
  } else if (geom === 'polygon') d.role = 'area';
  else if (geom === 'line') d.role = 'lines';
  else {
    d.role = 'points';
    const theme = THEMES.find((th) => th.match.test(words));
    if (theme) Object.assign(d, { color: theme.color, radius: theme.radius, visible: theme.on });
  }
  if (d.role === 'area' || d.role === 'lines') d.color = PALETTE[(collection.id.length * 7) % PALETTE.length];
  return d;
}

/** The vector tile source of a collection (bounded by its extent, so no tile outside it is asked). */
export function sourceFor(d) {
  const source = {
    type: 'vector',
    // The template is appended after resolving: URL() would percent-encode its braces.
    tiles: [`${apiUrl(`ogcapi/collections/${encodeURIComponent(d.id)}/tiles/WebMercatorQuad/`)}{z}/{y}/{x}`],
    minzoom: 0,
    // Polygons keep ~0.3 m detail at z15 and points ~0.6 m at z14; deeper zooms reuse those tiles,
    // which keeps panning at street level free of new requests.
    maxzoom: d.geom === 'point' ? 14 : 15,
    attribution: esc(d.attribution),
  };
  if (d.bbox) {
    const [w, s, e, n] = d.bbox;
    source.bounds = [Math.max(w, -180), Math.max(s, -85), Math.min(e, 180), Math.min(n, 85)];
  }
  return source;
}

/** The MapLibre style layers that draw a collection; each is tagged with the entry it belongs to. */
export function styleLayersFor(d) {
  const source = `c:${d.id}`;
  const base = { source, 'source-layer': d.id, metadata: { entry: d.key } };
  const visibility = d.visible ? 'visible' : 'none';
  switch (d.role) {
    case 'buildings': {
      const known = ['>', BUILDING_HEIGHT, 0];
      return [
        {
          ...base,
          id: `${d.id}::extrusion`,
          type: 'fill-extrusion',
          minzoom: 12,
          layout: { visibility },
          paint: {
            'fill-extrusion-color': buildingColor(),
            'fill-extrusion-height': ['case', known, BUILDING_HEIGHT, DEFAULT_HEIGHT],
            'fill-extrusion-base': ['to-number', ['coalesce', ['get', 'min_height'], 0], 0],
            'fill-extrusion-opacity': 1, // opaque: no extra render pass
            'fill-extrusion-vertical-gradient': true,
          },
        },
      ];
    }
    case 'boundary':
      return [
        { ...base, id: `${d.id}::fill`, type: 'fill', layout: { visibility }, paint: { 'fill-color': '#fbfaf6' } },
        {
          ...base,
          id: `${d.id}::line`,
          type: 'line',
          layout: { visibility, 'line-join': 'round' },
          paint: { 'line-color': '#8a7f70', 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 1.2, 15, 3], 'line-dasharray': [3, 2] },
        },
      ];
    case 'districts':
      return [
        {
          ...base,
          id: `${d.id}::fill`,
          type: 'fill',
          layout: { visibility },
          // Transparent until a statistic is chosen; it is there so a click inside a district finds it.
          paint: { 'fill-color': '#ffffff', 'fill-opacity': 0 },
        },
        {
          ...base,
          id: `${d.id}::line`,
          type: 'line',
          layout: { visibility, 'line-join': 'round' },
          paint: {
            'line-color': ['case', SELECTED, '#dd6b20', '#a89f91'],
            'line-width': ['interpolate', ['linear'], ['zoom'], 10, ['case', SELECTED, 3, 0.6], 15, ['case', SELECTED, 3, 1.6]],
          },
        },
      ];
    case 'area':
      return [
        { ...base, id: `${d.id}::fill`, type: 'fill', layout: { visibility }, paint: { 'fill-color': d.color, 'fill-opacity': 0.25 } },
        { ...base, id: `${d.id}::line`, type: 'line', layout: { visibility }, paint: { 'line-color': d.color, 'line-width': 1 } },
      ];
    case 'lines':
      return [{ ...base, id: `${d.id}::line`, type: 'line', layout: { visibility }, paint: { 'line-color': d.color, 'line-width': 2 } }];
    default: {
      const radius = d.radius || [10, 2.5, 16, 6];
      return [
        {
          ...base,
          id: `${d.id}::circle`,
          type: 'circle',
          layout: { visibility },
          paint: {
            'circle-color': d.color,
            'circle-radius': ['interpolate', ['linear'], ['zoom'], radius[0], radius[1], radius[2], radius[3]],
            'circle-stroke-color': ['case', SELECTED, '#1a202c', '#ffffff'],
            'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 12, ['case', SELECTED, 2.5, 0.4], 16, ['case', SELECTED, 2.5, 1.2]],
            'circle-opacity': 0.9,
          },
        },
      ];
    }
  }
}

/** Draw order: base areas at the bottom, then outlines, buildings, points; sensors go on top. */
export const ROLE_ORDER = { boundary: 0, districts: 1, area: 2, lines: 3, buildings: 4, points: 5 };

// --- the tree ------------------------------------------------------------------------------------

/**
 * Render the layer tree; `onToggle(entry, visible)` is called when a box is ticked. With `sensorsOf`
 * (entry → [{id, name}]) and `onSensor(id)`, a sensor entry has a folded list of its sensors, each a
 * button: the sensors are reachable by keyboard, not only by search or by pointing at the map.
 */
export function renderTree(container, groups, { onToggle, onZoom, sensorsOf, onSensor }) {
  container.innerHTML = '';
  container.removeAttribute('aria-busy');
  if (!groups.some((g) => g.entries.length || g.error || g.notice)) {
    container.innerHTML = `<p class="muted">${esc(t('noLayers'))}</p>`;
    return;
  }
  for (const group of groups) {
    if (!group.entries.length && !group.error && !group.notice) continue;
    const section = document.createElement('div');
    section.className = 'tree-group';
    section.innerHTML = `<h3>${esc(group.title)}</h3>`;
    // A partner's group says whom its data is from and under which licence (and when it cannot be read).
    if (group.partner) section.dataset.partner = group.partner;
    if (group.note) section.insertAdjacentHTML('beforeend', `<p class="tree-note">${esc(group.note)}</p>`);
    if (group.notice) section.insertAdjacentHTML('beforeend', `<p class="tree-note">${esc(group.notice)}</p>`);
    if (group.error) section.insertAdjacentHTML('beforeend', `<p class="error">${esc(group.error)}</p>`);
    const list = document.createElement('ul');
    list.className = 'tree-list';
    for (const entry of group.entries) list.append(treeItem(entry, onToggle, onZoom, sensorsOf, onSensor));
    section.append(list);
    container.append(section);
  }
}

function treeItem(entry, onToggle, onZoom, sensorsOf, onSensor) {
  const item = document.createElement('li');
  item.className = 'tree-item';
  item.dataset.entry = entry.key;
  const inputId = `layer-${entry.key.replace(/[^\w-]/g, '_')}`;
  const hint = entry.description ? ` title="${esc(entry.description)}"` : '';
  item.innerHTML = `
    <div class="tree-row">
      <input type="checkbox" id="${inputId}" ${entry.visible ? 'checked' : ''} />
      <label for="${inputId}"${hint}>${swatch(entry)}<span class="tree-title">${esc(entry.title)}</span>
        ${entry.countText ? `<span class="tree-count">${esc(entry.countText)}</span>` : ''}</label>
      ${entry.bbox ? `<button type="button" class="icon-button small zoom" aria-label="${esc(t('zoomTo'))}: ${esc(entry.title)}" title="${esc(t('zoomTo'))}"><svg aria-hidden="true" viewBox="0 0 24 24"><path d="M4 4h6v2H6v4H4V4Zm10 0h6v6h-2V6h-4V4ZM4 14h2v4h4v2H4v-6Zm14 0h2v6h-6v-2h4v-4Z"/></svg></button>` : ''}
    </div>
    <div class="tree-legend" ${entry.visible ? '' : 'hidden'}>${legendFor(entry)}</div>`;
  const box = item.querySelector('input');
  box.addEventListener('change', () => {
    item.querySelector('.tree-legend').hidden = !box.checked;
    onToggle(entry, box.checked);
  });
  item.querySelector('.zoom')?.addEventListener('click', () => onZoom(entry));
  if (entry.kind === 'sensor' && sensorsOf && onSensor) item.append(sensorList(entry, sensorsOf, onSensor));
  return item;
}

/** The folded list of an entry's sensors; filled when first opened (the first render stays light). */
function sensorList(entry, sensorsOf, onSensor) {
  const details = document.createElement('details');
  details.className = 'sensor-list';
  details.innerHTML = `<summary>${esc(t('listSensors', { title: entry.title }))}</summary><ul></ul>`;
  details.addEventListener('toggle', () => {
    const list = details.querySelector('ul');
    if (!details.open || list.childElementCount) return;
    for (const sensor of sensorsOf(entry)) {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'sensor-link';
      button.dataset.datastream = String(sensor.id);
      button.textContent = sensor.name;
      button.addEventListener('click', () => onSensor(sensor.id));
      li.append(button);
      list.append(li);
    }
  });
  return details;
}

/** Tick or untick an entry's box without the user (permalink, API). */
export function setTreeChecked(container, key, visible) {
  const item = container.querySelector(`[data-entry="${CSS.escape(key)}"]`);
  if (!item) return;
  item.querySelector('input').checked = visible;
  item.querySelector('.tree-legend').hidden = !visible;
}

/** Re-draw an entry's legend and count (a sensor's domain, a partner layer's features become known
 * after the tree is drawn). */
export function refreshLegend(container, entry) {
  const item = container.querySelector(`[data-entry="${CSS.escape(entry.key)}"] .tree-legend`);
  if (item) item.innerHTML = legendFor(entry);
  const label = container.querySelector(`[data-entry="${CSS.escape(entry.key)}"] label`);
  if (!label || !entry.countText) return;
  let count = label.querySelector('.tree-count');
  if (!count) label.append((count = Object.assign(document.createElement('span'), { className: 'tree-count' })));
  count.textContent = entry.countText;
}

function swatch(entry) {
  if (entry.kind === 'sensor') {
    return `<span class="swatch dot" style="background:linear-gradient(135deg,${VALUE_RAMP[0]},${VALUE_RAMP[4]})" aria-hidden="true"></span>`;
  }
  switch (entry.role) {
    case 'buildings':
      return `<span class="swatch block" style="background:${HEIGHT_RAMP[2][1]}" aria-hidden="true"></span>`;
    case 'boundary':
      return '<span class="swatch line dashed" aria-hidden="true"></span>';
    case 'districts':
      return '<span class="swatch line" style="border-color:#a89f91" aria-hidden="true"></span>';
    case 'area':
      return `<span class="swatch block" style="background:${entry.color}55;border:1px solid ${entry.color}" aria-hidden="true"></span>`;
    case 'lines':
      return `<span class="swatch line" style="border-color:${entry.color}" aria-hidden="true"></span>`;
    default:
      return `<span class="swatch dot" style="background:${entry.color}" aria-hidden="true"></span>`;
  }
}

/** A gradient bar with labelled ends and an optional extra swatch. */
export function rampLegend(colors, labels, extra) {
  const gradient = `linear-gradient(90deg, ${colors.join(', ')})`;
  const ticks = labels.map((l) => `<span>${esc(l)}</span>`).join('');
  const more = extra ? `<div class="legend-extra"><span class="swatch dot" style="background:${extra.color}"></span>${esc(extra.label)}</div>` : '';
  return `<div class="ramp" style="background:${gradient}" aria-hidden="true"></div><div class="ramp-ticks">${ticks}</div>${more}`;
}

function legendFor(entry) {
  if (entry.legend) return entry.legend(); // an entry that draws its own (a partner's layer)
  if (entry.kind === 'sensor') {
    const unit = unitText(entry.unit);
    if (!entry.domain) return `<p class="muted">${esc(t('loading'))}</p>`;
    const [lo, hi] = entry.domain;
    return rampLegend(VALUE_RAMP, [formatNumber(lo), formatNumber((lo + hi) / 2), `≥ ${formatNumber(hi)} ${unit}`], {
      color: NO_VALUE,
      label: t('noValue'),
    });
  }
  if (entry.role === 'buildings') {
    return rampLegend(
      HEIGHT_RAMP.map((s) => s[1]),
      ['0 m', '20 m', '≥ 80 m'],
      { color: HEIGHT_UNKNOWN, label: t('heightUnknown') },
    ) + (entry.attribution ? `<p class="legend-source">${esc(entry.attribution)}</p>` : '');
  }
  return entry.attribution ? `<p class="legend-source">${esc(entry.attribution)}</p>` : '';
}
