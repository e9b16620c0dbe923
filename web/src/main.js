// The urbantwin viewer: the city model of the platform's OGC API in 3D (MapLibre GL JS), its sensors
// live from the SensorThings API, history replay, district statistics, search and permalinks.
// Everything is read from this platform; the base map is drawn from its own layers, so the viewer
// works without internet. See docs/viewer.md.

import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import maplibregl from 'maplibre-gl';
import { getJSON } from './api.js';
import { Districts } from './districts.js';
import './goals-strings.js';
import { formatNumber, initialLanguage, language, LANGUAGES, missingTexts, setCity, setLanguage, STRINGS, t, unitText } from './i18n.js';
import { describeCollections, refreshLegend, renderTree, ROLE_ORDER, setTreeChecked, sourceFor, styleLayersFor } from './layers.js';
import { readHash, writeHash } from './permalink.js';
import { Search, label as featureLabel } from './search.js';
import { Partners } from './partners.js';
import { SideViews } from './sideview.js';
import { POLL_MS, SOURCE as SENSOR_SOURCE, Sensors } from './sensors.js';
import { Timeline } from './timeline.js';
import { attributeTable, closePanel, esc, html, openPanel, say, setMapBusy } from './ui.js';

const SENSOR_ANCHOR = 'anchor::sensors';
/** The roles drawn in the first render; the other layers follow it. */
const FIRST_RENDER_ROLES = new Set(['boundary', 'districts', 'buildings']);
const PICK_SOURCE = 'pick';
const HOME = { pitch: 52, bearing: -18 };
const viewer = { ready: false };
window.__viewer = viewer; // for the browser tests and the benchmark (see web/tests/)

async function main() {
  performance.mark('main');
  const hash = readHash();
  setLanguage(initialLanguage(hash.lang));
  // The map starts at once (its worker and shaders take a while in a browser without a GPU) while
  // the configuration and the collections load; the camera is set when the collections are known.
  // The collections are described once the city's profile (in the configuration) says which of
  // them are its districts.
  let collectionsDocument = null;
  const configLoaded = getJSON('api/viewer/config');
  const started = Promise.all([
    configLoaded,
    Promise.all([configLoaded, getJSON('ogcapi/collections')]).then(([config, doc]) =>
      describeCollections((collectionsDocument = doc), config.city),
    ),
  ]);
  const map = new maplibregl.Map({
    container: 'map',
    style: ownStyle(),
    center: hash.view?.center || [0, 0],
    zoom: hash.view?.zoom ?? 1,
    bearing: hash.view?.bearing ?? 0,
    pitch: hash.view?.pitch ?? 0,
    maxPitch: 75,
    attributionControl: false,
    hash: false,
    fadeDuration: 0,
  });
  viewer.map = map;
  performance.mark('map-created');
  const styleLoaded = new Promise((resolve) => map.once('load', resolve));
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.on('dataloading', () => setMapBusy(true));
  map.on('idle', () => setMapBusy(false));
  map.getCanvas().setAttribute('aria-label', t('mapLabel'));

  // Sensors and their properties load while the style and the first tiles load.
  const sensors = new Sensors(map, { onChange: sensorEvent });
  viewer.sensors = sensors;
  const sensorsLoaded = sensors.load().catch((error) => {
    say(t('loadFailed', { what: `${t('sensors')} (${error.message})` }), 0);
    return null;
  });

  const [config, described] = await started;
  performance.mark('collections');
  // Partner cities' layers (the federation module's panel), listed while the map loads.
  const partners = new Partners(map);
  viewer.partners = partners;
  const partnersLoaded = (config.panels ?? []).includes('partners') ? partners.load() : Promise.resolve();
  setCity(config.city);
  if (!LANGUAGES.includes(language())) setLanguage(LANGUAGES[0]);
  // The sources' attributions (the collections') and the city's own (its profile's) under the map.
  const cityAttribution = config.city?.attribution ? esc(config.city.attribution) : undefined;
  map.addControl(new maplibregl.AttributionControl({ compact: true, customAttribution: cityAttribution }), 'bottom-right');
  const entries = new Map(described.map((d) => [d.key, d]));
  if (hash.layers) for (const d of described) d.visible = hash.layers.includes(d.key);
  if (!hash.view) map.jumpTo(homeView(described, config.city));
  map.addControl(new HomeControl(() => map.flyTo({ ...homeView(described, config.city), essential: true })), 'top-right');
  await styleLoaded;
  if (config.styleUrl) {
    // An operator's base map beneath the platform's layers (the one case with another server).
    map.setStyle(config.styleUrl);
    await new Promise((resolve) => map.once('style.load', resolve));
  }
  performance.mark('style-loaded');
  // The attribution starts folded (its "i" button opens it), so it does not cover the time bar.
  map.once('idle', () => map.getContainer().querySelector('.maplibregl-ctrl-attrib')?.classList.remove('maplibregl-compact-show'));

  // City layers in draw order, then an anchor under which the sensors go, then the picked feature.
  // The first render draws what the city is made of (boundary, districts, buildings); the other
  // layers (trees, points, lines, sensors) are added right after it: with software WebGL every
  // source that delivers a tile costs another full frame before the buildings are complete.
  const ordered = [...described].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
  const essential = (d) => FIRST_RENDER_ROLES.has(d.role);
  const addCollection = (d, beforeId) => {
    map.addSource(`c:${d.id}`, sourceFor(d));
    for (const layer of styleLayersFor(d)) map.addLayer(layer, beforeId);
  };
  for (const d of ordered.filter(essential)) addCollection(d);
  map.addLayer({ id: SENSOR_ANCHOR, type: 'background', layout: { visibility: 'none' }, paint: {} });
  addPickLayers(map);
  const buildingLayers = () => described.filter((d) => d.role === 'buildings' && d.visible).map((d) => `${d.id}::extrusion`);
  /** How many distinct buildings are drawn now (a building cut by tile edges counts once). */
  viewer.renderedBuildings = () => {
    const ids = new Set();
    const layers = buildingLayers().filter((id) => map.getLayer(id));
    if (!layers.length) return 0;
    for (const f of map.queryRenderedFeatures({ layers })) ids.add(f.properties.id ?? f.id);
    return ids.size;
  };

  // First render: the map has loaded every tile of the view with the buildings drawn (what the
  // benchmark measures). Checked on every frame, so an `idle` fired before this point is not missed.
  let firstRendered;
  const renderedFirst = new Promise((resolve) => (firstRendered = resolve));
  const firstRender = () => {
    if (viewer.firstRender || !map.loaded() || !map.areTilesLoaded()) return;
    viewer.firstRender = performance.now();
    document.body.dataset.firstRender = String(Math.round(viewer.firstRender));
    map.off('idle', firstRender);
    map.off('render', firstRender);
    firstRendered();
  };
  map.on('idle', firstRender);
  map.on('render', firstRender);
  performance.mark('layers-added');
  // The rest of the city layers after the first render (or after 4 s, should tiles keep loading):
  // areas and lines beneath the buildings, points above them and beneath the sensors.
  const firstBuildingLayer = () => map.getStyle().layers.find((l) => l.metadata?.entry && entries.get(l.metadata.entry)?.role === 'buildings')?.id;
  const restAdded = Promise.race([renderedFirst, new Promise((resolve) => setTimeout(resolve, 4000))]).then(() => {
    for (const d of ordered.filter((c) => !essential(c))) addCollection(d, d.role === 'points' ? SENSOR_ANCHOR : firstBuildingLayer() || SENSOR_ANCHOR);
  });

  const districtCollections = described.filter((d) => d.role === 'districts').sort((a, b) => b.count - a.count);
  const districts = new Districts(map, districtCollections, {
    sensorProperties: () => [...sensors.entries.values()].filter((e) => e.located).map((e) => ({ id: e.id, title: e.title })),
    buildings: () => described.filter((d) => d.role === 'buildings'), // hidden ones too: right when switched on
    onChange: () => {
      // A statistic is drawn on its districts: make sure they are switched on.
      const entry = entries.get(districts.level);
      if (districts.stat !== 'none' && entry && !entry.visible) {
        setTreeChecked(tree, entry.key, true);
        toggle(entry, true);
      }
      updateTime();
      saveHash();
    },
  });
  viewer.districts = districts;
  districts.renderControls(document.getElementById('district-controls'), document.getElementById('district-legend'));
  if (hash.areas && districtCollections.some((c) => c.id === hash.areas)) districts.level = hash.areas;

  await sensorsLoaded;
  await restAdded;
  if (hash.layers) for (const entry of sensors.entries.values()) entry.visible = hash.layers.includes(entry.key);
  sensors.addLayers(SENSOR_ANCHOR);
  // The sensors are known now: their means per district can be chosen.
  districts.renderControls(document.getElementById('district-controls'), document.getElementById('district-legend'));
  for (const entry of sensors.entries.values()) entries.set(entry.key, entry);
  await partnersLoaded;
  for (const entry of partners.entries()) {
    if (hash.layers) entry.visible = hash.layers.includes(entry.key);
    entries.set(entry.key, entry);
  }
  partners.addLayers(SENSOR_ANCHOR);

  const tree = document.getElementById('layer-tree');
  partners.onChange = (entry) => refreshLegend(tree, entry);
  const drawTree = () =>
    renderTree(
      tree,
      [
        { title: t('sensors'), entries: [...sensors.entries.values()].filter((e) => e.located) },
        { title: t('cityLayers'), entries: described },
        ...partners.groups(),
      ],
      {
        onToggle: toggle,
        onZoom: zoomTo,
        sensorsOf: (entry) =>
          [...sensors.features.values()]
            .filter((f) => f.properties.op === entry.id)
            .map((f) => ({ id: f.properties.datastreamId, name: f.properties.name }))
            .sort((a, b) => a.name.localeCompare(b.name)),
        onSensor: showSensor,
      },
    );
  drawTree();

  function toggle(entry, visible) {
    entry.visible = visible;
    for (const layer of map.getStyle().layers) {
      if (layer.metadata?.entry === entry.key) map.setLayoutProperty(layer.id, 'visibility', visible ? 'visible' : 'none');
    }
    if (entry.kind === 'sensor' && visible) sensors.entryShown(entry).catch(() => {});
    if (entry.kind === 'partner') partners.shown(entry, visible);
    updateTime();
    saveHash();
  }

  function zoomTo(entry) {
    const [w, s, e, n] = entry.bbox;
    map.fitBounds([w, s, e, n], { padding: 40, pitch: map.getPitch(), bearing: map.getBearing(), maxZoom: 17 });
  }

  // --- time -----------------------------------------------------------------------------------
  const timeline = new Timeline({
    onTime: async (time, hold) => {
      districts.setYear(districts.yearFor(time));
      saveHash();
      districts.setTime(time).catch((error) => say(t('loadFailed', { what: error.message })));
      await sensors.setTime(time, hold);
      if (sensors.panelBody) sensors.refreshPanel();
    },
    onLive: () => {
      sensors.setLive();
      districts.setTime(null).catch((error) => say(t('loadFailed', { what: error.message })));
      districts.setYear(districts.yearFor(null));
      if (sensors.panelBody) sensors.refreshPanel();
      saveHash();
    },
  });
  viewer.timeline = timeline;

  function updateTime() {
    const extents = [sensors.extent(), districts.extent()].filter(Boolean);
    timeline.setExtent(extents.length ? [Math.min(...extents.map((e) => e[0])), Math.max(...extents.map((e) => e[1]))] : null);
  }

  function sensorEvent(kind) {
    if (kind === 'transport') {
      timeline.setTransport(sensors.transport === 'push' ? t('liveViaPush') : t('liveViaPoll', { s: POLL_MS / 1000 }));
    }
    if (kind === 'time-loading' || kind === 'time-loaded') document.getElementById('timebar').setAttribute('aria-busy', String(sensors.pending > 0));
  }

  for (const entry of sensors.entries.values()) {
    if (entry.located) {
      sensors.refreshColors(entry);
      refreshLegend(tree, entry);
    }
  }
  if (hash.stat) await districts.setStat(hash.stat);
  updateTime();
  if (hash.time !== null && timeline.extent) timeline.setTime(hash.time);
  else districts.setYear(districts.yearFor(null));
  sensors.startLive(config.liveUrl);

  // --- inspect --------------------------------------------------------------------------------
  const interactive = () =>
    map
      .getStyle()
      .layers.filter((l) => l.metadata?.entry && l.layout?.visibility !== 'none' && l.id !== SENSOR_ANCHOR)
      .map((l) => l.id);
  let selectedFeature = null;
  const selectFeature = (target) => {
    if (selectedFeature) map.setFeatureState(selectedFeature, { selected: false });
    selectedFeature = target;
    if (target) map.setFeatureState(target, { selected: true });
  };

  map.on('click', (event) => {
    const { x, y } = event.point;
    const hits = map.queryRenderedFeatures(
      [
        [x - 5, y - 5],
        [x + 5, y + 5],
      ],
      { layers: interactive() },
    );
    const hit = hits[0];
    if (!hit) return closePanel();
    inspect(hit);
  });
  // The pointer cursor over clickable features, asked at most once a frame (a query over extruded
  // buildings is not free).
  let hover = null;
  map.on('mousemove', (event) => {
    if (hover === null) {
      requestAnimationFrame(() => {
        const hits = map.queryRenderedFeatures(hover, { layers: interactive() });
        map.getCanvas().style.cursor = hits.length ? 'pointer' : '';
        hover = null;
      });
    }
    hover = event.point;
  });

  function inspect(hit) {
    clearPick();
    const owner = sideViews.owner(hit);
    if (owner) {
      selectFeature(null);
      owner.inspect(hit);
      return;
    }
    if (partners.owns(hit)) {
      selectFeature(null);
      partners.inspect(hit);
      return;
    }
    if (hit.source === SENSOR_SOURCE) {
      selectFeature(null);
      sensors.open(hit.properties.datastreamId);
      return;
    }
    const collection = described.find((d) => `c:${d.id}` === hit.source);
    if (!collection) return;
    if (collection.role === 'districts') {
      selectFeature(null);
      districts.openProfile(collection.id, hit);
      return;
    }
    selectFeature(Number.isInteger(hit.id) ? { source: hit.source, sourceLayer: hit.sourceLayer, id: hit.id } : null);
    showAttributes(collection, hit.properties, hit.properties.id ?? hit.id);
  }

  function showAttributes(collection, properties, id) {
    const table = attributeTable(properties, (key) => key === 'cityjson');
    const link = html(
      `<p><a href="${esc(new URL(`ogcapi/collections/${encodeURIComponent(collection.id)}/items/${encodeURIComponent(id)}`, document.baseURI).href)}" target="_blank" rel="noopener">${esc(t('featureLink'))}</a></p>`,
    );
    const facts = [];
    const height = Number(properties.height ?? properties.height_m);
    if (collection.role === 'buildings') {
      // An estimated height (the import's --estimate-heights) is shown as one: "≈", and the method on hover.
      const estimated = properties.height_estimated === true || properties.height_estimated === 'true';
      const shown = height > 0 ? `${estimated ? '≈ ' : ''}${formatNumber(height)} m` : t('heightUnknown');
      const method = estimated && properties.height_source ? ` title="${esc(properties.height_source)}"` : '';
      facts.push(html(`<p class="big-value" data-testid="building-height"${method}><strong>${esc(shown)}</strong> <span class="muted">${esc(t(estimated ? 'heightEstimated' : 'height'))}</span></p>`));
      // Sensors inside the building, when the districts show a sensor mean (at the slider's time).
      const row = districts.buildingMeanOf(collection.id, properties.id ?? id);
      if (row) {
        const unit = unitText(districts.means?.unitOfMeasurement);
        const mean = row.mean === null ? t('noData') : `${formatNumber(row.mean)} ${unit}`.trim();
        facts.push(html(`<dl class="facts" data-testid="building-sensor-mean"><dt>${esc(districts.legendTitle())}</dt><dd>${esc(mean)}</dd><dt>${esc(t('sensorsInBuilding'))}</dt><dd>${esc(formatNumber(row.sensors))}</dd></dl>`));
      }
    }
    openPanel({
      kind: `${t('feature')} · ${collection.title}`,
      title: featureLabel({ id, properties }, { names: ['name', 'stop_name', 'adresse', 'strasse'] }),
      body: [...facts, table, link],
      panel: 'feature',
      closed: () => selectFeature(null),
    });
  }

  // --- search ---------------------------------------------------------------------------------
  new Search({
    input: document.getElementById('search-input'),
    list: document.getElementById('search-results'),
    collections: described,
    sensors,
    onPick: (result) => {
      if (result.kind === 'sensor') return showSensor(result.id);
      const { collection, feature } = result;
      flyToGeometry(feature.geometry);
      showPick(feature);
      if (collection.role === 'districts') districts.openProfile(collection.id, feature);
      else showAttributes(collection, feature.properties, feature.id);
    },
  });

  /** Show a sensor (Datastream id): its layer on, the map at it, its chart open. */
  function showSensor(id) {
    const feature = sensors.features.get(id);
    if (!feature) return;
    const entry = sensors.entries.get(feature.properties.op);
    if (entry && !entry.visible) {
      setTreeChecked(tree, entry.key, true);
      toggle(entry, true);
    }
    map.flyTo({ center: feature.geometry.coordinates, zoom: Math.max(map.getZoom(), 15), essential: true });
    sensors.open(id);
  }

  function flyToGeometry(geometry) {
    const coords = flatCoordinates(geometry);
    if (!coords.length) return;
    const lons = coords.map((c) => c[0]);
    const lats = coords.map((c) => c[1]);
    const bounds = [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
    if (bounds[0] === bounds[2] && bounds[1] === bounds[3]) {
      map.flyTo({ center: [bounds[0], bounds[1]], zoom: Math.max(map.getZoom(), 17), essential: true });
    } else {
      map.fitBounds(bounds, { padding: 80, maxZoom: 17.5, pitch: map.getPitch(), bearing: map.getBearing() });
    }
  }

  function showPick(feature) {
    map.getSource(PICK_SOURCE).setData({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry: feature.geometry, properties: {} }] });
  }
  function clearPick() {
    map.getSource(PICK_SOURCE)?.setData({ type: 'FeatureCollection', features: [] });
  }

  // --- permalink, language, layout ------------------------------------------------------------
  function saveHash() {
    if (!viewer.ready) return;
    const c = map.getCenter();
    writeHash({
      view: { zoom: map.getZoom(), center: [c.lng, c.lat], bearing: map.getBearing(), pitch: map.getPitch() },
      layers: [...entries.values()].filter((e) => e.visible).map((e) => e.key),
      time: timeline.time,
      stat: districts.stat,
      areas: districts.stat !== 'none' && districtCollections.length > 1 ? districts.level : null,
      lang: language(),
    });
  }
  map.on('moveend', saveHash);
  window.addEventListener('hashchange', () => location.reload());

  document.getElementById('copy-link').addEventListener('click', async () => {
    saveHash();
    try {
      await navigator.clipboard.writeText(location.href);
      say(t('linkCopied'));
    } catch {
      say(t('linkReady')); // no clipboard access (insecure origin, denied): the address bar has it
    }
  });

  const langButton = document.getElementById('lang');
  const showLanguage = () => {
    const next = LANGUAGES.find((l) => l !== language());
    langButton.textContent = next.toUpperCase();
    langButton.setAttribute('lang', next);
  };
  showLanguage();
  langButton.addEventListener('click', () => {
    setLanguage(LANGUAGES.find((l) => l !== language()));
    showLanguage();
    drawTree();
    districts.renderControls(document.getElementById('district-controls'), document.getElementById('district-legend'));
    for (const entry of sensors.entries.values()) entry.countText = t('sensorsCount', { n: entry.located });
    drawTree();
    sensorEvent('transport');
    timeline.render();
    if (sensors.panelBody) sensors.refreshPanel();
    sideViews.render();
    saveHash();
  });

  const sidebar = document.getElementById('sidebar');
  const sidebarButton = document.getElementById('toggle-sidebar');
  sidebarButton.addEventListener('click', () => {
    const open = !document.body.classList.contains('sidebar-open');
    document.body.classList.toggle('sidebar-open', open);
    sidebarButton.setAttribute('aria-expanded', String(open));
    if (open) sidebar.querySelector('input, select, button')?.focus();
  });

  // --- the side views: energy, public transport, digital infrastructure, clean air --------------
  // Each view's code loads when it is first opened; one is open at a time (sideview.js).
  const sideViews = new SideViews({ failed: (error) => say(t('loadFailed', { what: error.message }), 0) });

  const energyButton = document.getElementById('energy-open');
  viewer.energy = sideViews.add(energyButton, async ({ onClose }) => {
    const { EnergyView } = await import('./energy.js');
    return new EnergyView(map, {
      collections: collectionsDocument,
      buildingEntries: () => described.filter((d) => d.role === 'buildings'),
      beforeId: SENSOR_ANCHOR,
      onClose,
    });
  });
  // The energy view is offered where the server's modules contribute its panel (the energy module
  // is registered) and its API answers.
  energyButton.hidden = !(config.panels ?? []).includes('energy') || !config.energyUrl;

  const transitButton = document.getElementById('transit-open');
  viewer.transit = sideViews.add(transitButton, async ({ onClose }) => {
    const { TransitView } = await import('./transit.js');
    return new TransitView(map, { beforeId: SENSOR_ANCHOR, onClose });
  });
  // Offered where the transit module contributes its panel and the store holds a feed (asked after
  // the first render, so the start does not wait for it).
  if ((config.panels ?? []).includes('transit')) {
    getJSON('api/transit/feeds')
      .then((answer) => (transitButton.hidden = !(answer.feeds || []).length))
      .catch(() => (transitButton.hidden = true));
  }

  const infrastructureButton = document.getElementById('infrastructure-open');
  viewer.infrastructure = sideViews.add(infrastructureButton, async ({ onClose }) => {
    const { InfrastructureView } = await import('./infrastructure.js');
    return new InfrastructureView(map, { beforeId: SENSOR_ANCHOR, onClose });
  });
  infrastructureButton.hidden = !(config.panels ?? []).includes('infrastructure');

  const airButton = document.getElementById('air-open');
  viewer.air = sideViews.add(airButton, async ({ onClose }) => {
    const { AirView } = await import('./air.js');
    return new AirView(map, { beforeId: SENSOR_ANCHOR, onClose });
  });
  airButton.hidden = !(config.panels ?? []).includes('air');

  // --- for the tests and the benchmark --------------------------------------------------------
  Object.assign(viewer, {
    entries: () => [...entries.values()].map((e) => ({ key: e.key, title: e.title, visible: e.visible, kind: e.kind })),
    renderedSensors: (op) =>
      map
        .queryRenderedFeatures({ layers: [...sensors.entries.values()].filter((e) => e.located && (op === undefined || e.id === op)).map((e) => `sensors::${e.id}`) })
        .map((f) => ({ id: f.properties.datastreamId, v: f.properties.v ?? null })),
    sensorValue: (id) => sensors.value(id),
    transport: () => sensors.transport,
    missingTexts,
    /** The keys of every text whose text in the current language is not the key itself ('mean'). */
    textKeys: () => {
      const own = STRINGS[language()];
      return [...new Set(Object.values(STRINGS).flatMap((table) => Object.keys(table)))].filter((key) => own[key] !== key);
    },
    sensorScreenPoint: (id) => {
      const f = sensors.features.get(id);
      return f ? map.project(f.geometry.coordinates) : null;
    },
  });
  viewer.ready = true;
  document.body.dataset.ready = 'true';
  saveHash();
}

/** The base map drawn from nothing but the platform's layers: a background to lay them on. */
function ownStyle() {
  return {
    version: 8,
    name: 'urbantwin',
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eeece6' } }],
  };
}

/** The first view, in 3D: the largest building collection, else the city's extent (its profile's),
 * else the districts, else anything there is. */
function homeView(described, city) {
  const by = (role) => described.filter((d) => d.role === role && d.bbox).sort((a, b) => b.count - a.count)[0];
  const bbox = by('buildings')?.bbox || city?.extent || by('districts')?.bbox || described.find((d) => d.bbox)?.bbox;
  const el = document.getElementById('map');
  if (!bbox) return { center: [0, 0], zoom: 1, pitch: 0, bearing: 0 };
  const [w, s, e, n] = bbox;
  const width = Math.max(el.clientWidth - 80, 200);
  const height = Math.max(el.clientHeight - 80, 200);
  const mercY = (lat) => Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)) / (2 * Math.PI);
  const zx = Math.log2((width * 360) / ((e - w) * 512));
  const zy = Math.log2(height / ((mercY(n) - mercY(s)) * 512));
  const zoom = Math.min(zx, zy, 17);
  // Tilted, the far half shrinks: the centre moves a little north so the whole model stays in view.
  return { center: [(w + e) / 2, s + (n - s) * 0.56], zoom: zoom + 0.15, ...HOME };
}

function addPickLayers(map) {
  map.addSource(PICK_SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'pick::line', type: 'line', source: PICK_SOURCE, filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#dd6b20', 'line-width': 3 } });
  map.addLayer({
    id: 'pick::point',
    type: 'circle',
    source: PICK_SOURCE,
    filter: ['==', ['geometry-type'], 'Point'],
    paint: { 'circle-radius': 11, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#dd6b20', 'circle-stroke-width': 3 },
  });
}

function flatCoordinates(geometry) {
  if (!geometry) return [];
  const out = [];
  const walk = (c) => (typeof c[0] === 'number' ? out.push(c) : c.forEach(walk));
  walk(geometry.coordinates);
  return out;
}

/** A map button back to the first view. */
class HomeControl {
  constructor(go) {
    this.go = go;
  }
  onAdd() {
    this.container = document.createElement('div');
    this.container.className = 'maplibregl-ctrl maplibregl-ctrl-group';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'home-button';
    button.setAttribute('aria-label', t('homeView'));
    button.title = t('homeView');
    button.innerHTML = '<svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M12 3 2 12h3v8h6v-5h2v5h6v-8h3L12 3Z"/></svg>';
    button.addEventListener('click', this.go);
    this.container.append(button);
    return this.container;
  }
  onRemove() {
    this.container.remove();
  }
}

main().catch((error) => {
  say(t('loadFailed', { what: error.message }), 0);
  document.getElementById('layer-tree').innerHTML = `<p class="error">${esc(t('loadFailed', { what: error.message }))}</p>`;
  document.body.dataset.ready = 'error';
  console.error(error);
});
