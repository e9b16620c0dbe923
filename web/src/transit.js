// The public-transport view (EfficienCE): the lines of an imported GTFS feed coloured by their modelled
// energy or CO2 per vehicle-km, with a legend; a line's panel with its hourly vehicle-km and energy
// and its vehicle type; a stop's timetabled departures per hour; the feed's scenario runs side by side.
// The data come from the transit API (/api/transit/…, docs/transit.md) and the feed's collections
// `<feed>-lines` and `<feed>-stops`, drawn from their vector tiles. Every figure of the model says it
// is a model result; the departures are the timetable's. The view draws layers of its own and changes
// no other layer's visibility, so closing it (or another view) leaves the map as it was.
// Loaded only when the view is first opened (main.js), so the first render does not wait for it.

import { getJSON } from './api.js';
import { barChart, lineChart } from './chart.js';
import { formatNumber, t } from './i18n.js';
import { rampLegend, sourceFor } from './layers.js';
import './transit-strings.js';
import { SideView } from './sideview.js';
import { esc, html, openPanel } from './ui.js';

export const SOURCE_PREFIX = 'transit:';
const LINES = 'transit::lines';
const PICKED = 'transit::picked';
const STOPS = 'transit::stops';
/** Low → high per vehicle-km: green → dark red. */
const RAMP = ['#1a9850', '#a6d96a', '#fee08b', '#f46d43', '#a50026'];
const NO_VALUE = '#9aa0a6';
const COLOUR_BY = {
  energy: { label: 'transitEnergyPerKm', unit: 'kWh/km', value: (line) => line.final_energy_kwh / line.vehicle_km },
  co2: { label: 'transitCo2PerKm', unit: 'kg/km', value: (line) => line.co2_wtw_kg / line.vehicle_km },
};
/** Texts of the vehicle types of the model and of the modes of `transit.feed.route_mode`. */
const VEHICLE = {
  tram: 'tram',
  cable_tram: 'modeCableTram',
  light_rail: 'light_rail',
  trolleybus: 'trolleybus',
  battery_bus: 'battery_bus',
  diesel_bus: 'diesel_bus',
  bus: 'bus',
  subway: 'modeSubway',
  rail: 'modeRail',
  monorail: 'modeMonorail',
  ferry: 'modeFerry',
  aerial_lift: 'modeAerialLift',
  funicular: 'modeFunicular',
  air: 'modeAir',
  taxi: 'modeTaxi',
  other: 'modeOther',
};
/** The KPIs of a comparison (`/api/transit/compare` `keys`) and their labels. */
const KPI = {
  vehicle_km: 'kpiVehicleKm',
  electric_kwh: 'kpiElectricKwh',
  depot_charging_kwh: 'kpiDepotChargingKwh',
  grid_kwh: 'kpiGridKwh',
  diesel_l: 'kpiDieselL',
  final_energy_kwh: 'kpiFinalEnergyKwh',
  co2_ttw_kg: 'kpiCo2TtwKg',
  co2_wtw_kg: 'kpiCo2WtwKg',
  pv_kwh: 'kpiPvKwh',
  pv_self_consumed_kwh: 'kpiPvSelfConsumedKwh',
  pv_co2_saved_kg: 'kpiPvCo2SavedKg',
  cost_eur: 'kpiCostEur',
};
const FLOW = { vehicle_km: '#2b6cb0', final_energy_kwh: '#c05621' };

const kind = (type) => (type in VEHICLE ? t(VEHICLE[type]) : t('notModelled'));
const number = (value, digits = 0) => (Number.isFinite(value) ? formatNumber(value, digits) : '–');
/** The period of a model answer in the viewer's language (the API's label is English). */
const periodText = (period) =>
  /^typical weekday/.test(period?.label || '') ? t('transitTypicalWeekday', { day: period.first }) : period?.first === period?.last ? period?.first : `${period?.first} – ${period?.last}`;
/** Hours of the service day as GTFS writes them: 24:00 and later are after midnight. */
const hourLabel = (h) => `${String(h).padStart(2, '0')}:00`;
const hourTicks = (hours) => [0, 6, 12, 18, 24].filter((h) => h < hours);

export class TransitView extends SideView {
  constructor(map, options = {}) {
    super(map, 'transit', { ...options, badge: 'transit-model' });
    this.feeds = [];
    this.feedId = null;
    this.energy = null; // the model's document for the feed (typical weekday)
    this.runs = [];
    this.picked = []; // run ids ticked for the comparison
    this.comparison = null;
    this.colourBy = 'energy';
    this.shown = null; // the feed whose layers are on the map
  }

  // --- opening, closing -------------------------------------------------------------------------

  /** Its layers off the map, and the camera back where it was before the view fitted a line. */
  restoreMap() {
    this.removeLayers();
    if (this.cameraBefore) this.map.jumpTo(this.cameraBefore);
    this.cameraBefore = null;
  }

  /** The feeds, then the chosen feed's model result and runs. */
  async load() {
    try {
      this.feeds = (await getJSON('api/transit/feeds')).feeds || [];
      this.error = null;
    } catch (error) {
      this.error = error.message;
    }
    if (!this.feeds.some((f) => f.id === this.feedId)) this.feedId = this.feeds[0]?.id ?? null;
    await this.chooseFeed(this.feedId);
  }

  async chooseFeed(feedId) {
    this.feedId = feedId;
    this.energy = null;
    this.runs = [];
    this.picked = [];
    this.comparison = null;
    this.render();
    if (!feedId) return this.removeLayers();
    try {
      const [energy, runs] = await Promise.all([getJSON(`api/transit/feeds/${encodeURIComponent(feedId)}/energy`), getJSON('api/transit/runs')]);
      if (this.feedId !== feedId) return;
      this.energy = energy;
      this.runs = (runs.runs || []).filter((r) => r.feed === feedId && r.status === 'done');
      this.error = null;
    } catch (error) {
      this.error = error.message;
    }
    this.render();
    await this.showOnMap();
  }

  feed() {
    return this.feeds.find((f) => f.id === this.feedId) || null;
  }

  line(routeId) {
    return this.energy?.lines.find((l) => l.route_id === routeId) || null;
  }

  // --- the map ----------------------------------------------------------------------------------

  owns(hit) {
    return String(hit.source || '').startsWith(SOURCE_PREFIX);
  }

  /** Draw a line as picked (its route id), or none (null). */
  pick(routeId) {
    if (this.map.getLayer(PICKED)) this.map.setFilter(PICKED, ['==', ['to-string', ['get', 'id']], routeId ?? '']);
  }

  async showOnMap() {
    if (this.shown !== this.feedId) {
      this.removeLayers();
      if (this.feedId && this.isOpen) await this.addLayers(this.feedId);
    }
    this.paint();
  }

  async addLayers(feedId) {
    const [lines, stops] = await Promise.all(
      ['lines', 'stops'].map((part) => getJSON(`ogcapi/collections/${encodeURIComponent(`${feedId}-${part}`)}`).catch(() => null)),
    );
    if (!lines || this.feedId !== feedId || !this.isOpen || this.shown) return;
    const add = (collection, geom) => {
      const source = `${SOURCE_PREFIX}${collection.id}`;
      if (!this.map.getSource(source)) this.map.addSource(source, sourceFor({ id: collection.id, geom, bbox: collection.extent?.spatial?.bbox?.[0], attribution: collection.attribution }));
      return { source, 'source-layer': collection.id, metadata: { entry: 'transit' } };
    };
    this.map.addLayer(
      {
        ...add(lines, 'line'),
        id: LINES,
        type: 'line',
        layout: { 'line-join': 'round', 'line-cap': 'round' },
        paint: { 'line-color': NO_VALUE, 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 2, 15, 5] },
      },
      this.beforeId,
    );
    // The line whose panel is open, drawn beneath the lines as a dark casing.
    this.map.addLayer(
      {
        ...add(lines, 'line'),
        id: PICKED,
        type: 'line',
        filter: ['==', ['to-string', ['get', 'id']], ''],
        layout: { 'line-join': 'round', 'line-cap': 'round' },
        paint: { 'line-color': '#1a202c', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 6, 15, 11] },
      },
      LINES,
    );
    if (stops) {
      this.map.addLayer(
        {
          ...add(stops, 'point'),
          id: STOPS,
          type: 'circle',
          minzoom: 12,
          paint: {
            'circle-color': '#ffffff',
            'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 2.5, 16, 6],
            'circle-stroke-color': '#2d3748',
            'circle-stroke-width': 1.2,
          },
        },
        this.beforeId,
      );
    }
    this.shown = feedId;
    // The feed may be of a place other than the city's model (the demo's is another city's): go there,
    // and back where the map was when the view closes.
    const bbox = lines.extent?.spatial?.bbox?.[0];
    if (bbox) {
      const c = this.map.getCenter();
      this.cameraBefore ??= { center: [c.lng, c.lat], zoom: this.map.getZoom(), pitch: this.map.getPitch(), bearing: this.map.getBearing() };
      // Beside the panel (on the left), or above it (a bottom sheet on a narrow screen).
      const panel = this.panel.getBoundingClientRect();
      const map = this.map.getContainer().getBoundingClientRect();
      const sheet = panel.width >= map.width - 40;
      const padding = { top: 40, right: 40, bottom: sheet ? Math.min(panel.height, map.height * 0.62) + 20 : 40, left: sheet ? 40 : panel.right - map.left + 20 };
      this.map.fitBounds([bbox[0], bbox[1], bbox[2], bbox[3]], { padding, pitch: 0, bearing: 0, duration: 0 });
    }
  }

  removeLayers() {
    if (!this.shown) return;
    for (const layer of [STOPS, LINES, PICKED]) if (this.map.getLayer(layer)) this.map.removeLayer(layer);
    for (const part of ['stops', 'lines']) {
      const source = `${SOURCE_PREFIX}${this.shown}-${part}`;
      if (this.map.getSource(source)) this.map.removeSource(source);
    }
    this.shown = null;
  }

  /** Each line's value per vehicle-km for the colouring (null for a line with no km). */
  values() {
    const how = COLOUR_BY[this.colourBy];
    return new Map((this.energy?.lines || []).map((l) => [l.route_id, l.vehicle_km > 0 ? how.value(l) : null]));
  }

  /** The range of the lines' values, [low, high] (null without any). */
  range(values) {
    const finite = [...values].filter(Number.isFinite);
    return finite.length ? [Math.min(...finite), Math.max(...finite)] : null;
  }

  /** A value's colour on the ramp, linear from the lowest line's value to the highest's: the values
   * per km take few distinct values (one coefficient per vehicle type), so classes of equal counts
   * would collapse. */
  colourOf(value, range) {
    if (!Number.isFinite(value) || !range) return NO_VALUE;
    const [lo, hi] = range;
    const x = hi > lo ? ((value - lo) / (hi - lo)) * (RAMP.length - 1) : 0;
    const i = Math.min(Math.floor(x), RAMP.length - 2);
    const f = x - i;
    const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
    const [a, b] = [rgb(RAMP[i]), rgb(RAMP[i + 1])];
    return `#${a.map((c, k) => Math.round(c + (b[k] - c) * f).toString(16).padStart(2, '0')).join('')}`;
  }

  paint() {
    const values = this.values();
    this.currentRange = this.range(values.values());
    if (this.map.getLayer(LINES)) {
      const pairs = [...values].flatMap(([id, v]) => [id, this.colourOf(v, this.currentRange)]);
      this.map.setPaintProperty(LINES, 'line-color', pairs.length ? ['match', ['to-string', ['get', 'id']], ...pairs, NO_VALUE] : NO_VALUE);
      // Lines that run on the day above those that do not (a variant without service shares their streets).
      const running = [...values].filter(([, v]) => Number.isFinite(v)).map(([id]) => id);
      this.map.setLayoutProperty(LINES, 'line-sort-key', running.length ? ['match', ['to-string', ['get', 'id']], running, 1, 0] : 0);
    }
    this.renderLegend();
  }

  renderLegend() {
    const legend = this.panel?.querySelector('.transit-legend');
    if (!legend) return;
    const range = this.currentRange;
    if (!this.energy || !range) {
      legend.innerHTML = '';
      return;
    }
    const how = COLOUR_BY[this.colourBy];
    const digits = this.colourBy === 'energy' ? 2 : 3;
    const [lo, hi] = range;
    legend.innerHTML =
      `<p class="legend-title">${esc(t(how.label))} <span class="badge simulated">${esc(t('transitModel'))}</span></p>` +
      rampLegend(RAMP, [formatNumber(lo, digits), formatNumber((lo + hi) / 2, digits), `${formatNumber(hi, digits)} ${how.unit}`], { color: NO_VALUE, label: t('transitLegendNoValue') });
  }

  /** A click on the view's layers: a stop's departures, or a line's panel. */
  inspect(hit) {
    const id = String(hit.properties?.id ?? hit.id);
    if (hit.layer?.id === STOPS) return this.openStop(id, hit.properties?.name || id);
    return this.openLine(id);
  }

  // --- a line -----------------------------------------------------------------------------------

  openLine(routeId) {
    const line = this.line(routeId);
    if (!line) return;
    const hours = Array.from({ length: line.hourly.vehicle_km.length }, (_, h) => h);
    const chart = (key, title, unit) => {
      const figure = html(`<figure class="chart-box" data-chart="line-${key}" data-hours="${hours.length}"></figure>`);
      figure.append(
        lineChart({
          xs: hours,
          series: [{ name: t(title), color: FLOW[key], values: line.hourly[key] }],
          unit,
          xTicks: hourTicks(hours.length),
          xFormat: hourLabel,
          summary: t('transitLineSummary', { line: line.line, what: t(title) }),
        }),
      );
      return figure;
    };
    const perKm = (v) => (line.vehicle_km > 0 ? v / line.vehicle_km : NaN);
    const facts = html(`<div class="transit-facts">
      <p class="simulated-line"><span class="badge simulated">${esc(t('transitModel'))}</span> ${esc(t('transitModelNote'))}</p>
      <dl class="facts" data-testid="transit-line-facts">
        <dt>${esc(t('transitMode'))}</dt><dd>${esc(kind(line.mode))}</dd>
        <dt>${esc(t('transitVehicleType'))}</dt><dd data-testid="transit-vehicle-type">${esc(kind(line.vehicle_type))}</dd>
        <dt>${esc(t('transitPeriod', { label: periodText(this.energy.period) }))}</dt><dd>${esc(t('transitRuns', { n: line.runs }))}</dd>
        <dt>${esc(t('transitVehicleKm'))}</dt><dd>${esc(number(line.vehicle_km))} km</dd>
        <dt>${esc(t('transitFinalEnergy'))}</dt><dd>${esc(number(line.final_energy_kwh))} kWh · ${esc(number(perKm(line.final_energy_kwh), 2))} kWh/km</dd>
        <dt>${esc(t('transitCo2'))}</dt><dd>${esc(number(line.co2_wtw_kg))} kg · ${esc(number(perKm(line.co2_wtw_kg), 3))} kg/km</dd>
      </dl></div>`);
    openPanel({
      kind: `${t('transitLine')} · ${this.feed()?.title || this.feedId} · ${t('transitModel')}`,
      title: [line.line, line.name].filter(Boolean).join(' · '),
      body: [
        facts,
        html(`<h5 class="chart-title">${esc(t('transitHourlyVehicleKm'))} <span class="badge simulated">${esc(t('transitModel'))}</span></h5>`),
        chart('vehicle_km', 'transitHourlyVehicleKm', 'km'),
        html(`<h5 class="chart-title">${esc(t('transitHourlyEnergy'))} <span class="badge simulated">${esc(t('transitModel'))}</span></h5>`),
        chart('final_energy_kwh', 'transitHourlyEnergy', 'kWh'),
      ],
      panel: 'transit-line',
      closed: () => this.pick(null),
    });
    this.pick(routeId);
  }

  // --- a stop -----------------------------------------------------------------------------------

  async openStop(stopId, name) {
    const feedId = this.feedId;
    const body = openPanel({ kind: `${t('transitStop')} · ${this.feed()?.title || feedId}`, title: name, body: html(`<p class="muted">${esc(t('loading'))}</p>`), panel: 'transit-stop' });
    let doc;
    try {
      doc = await getJSON(`api/transit/feeds/${encodeURIComponent(feedId)}/stops/${encodeURIComponent(stopId)}/departures`, { params: { day: this.energy?.period?.first } });
    } catch (error) {
      if (body.isConnected) body.replaceChildren(html(`<p class="error">${esc(t('loadFailed', { what: error.message }))}</p>`));
      return;
    }
    if (!body.isConnected || document.getElementById('info').dataset.panel !== 'transit-stop') return;
    const parts = [
      html(`<p class="big-value"><strong data-testid="transit-departures">${esc(t('transitDepartures', { n: doc.departures }))}</strong> <span class="muted">${esc(t('transitPeriod', { label: periodText(doc.period) }))}</span></p>`),
      html(`<p class="muted small">${esc(t('transitTimetabled'))}</p>`),
    ];
    if (doc.departures) {
      const figure = html(`<figure class="chart-box" data-chart="departures" data-hours="${doc.hourly.length}"></figure>`);
      figure.append(
        barChart({
          values: doc.hourly,
          xTicks: hourTicks(doc.hourly.length),
          xFormat: hourLabel,
          summary: t('transitDeparturesSummary', { stop: name }),
          color: '#2b6cb0',
        }),
      );
      const rows = doc.lines.map((l) => `<tr><th scope="row">${esc(l.line)}</th><td>${esc(kind(l.mode))}</td><td>${esc(t('transitDepartures', { n: l.departures }))}</td></tr>`).join('');
      parts.push(
        html(`<h5 class="chart-title">${esc(t('transitDeparturesPerHour'))}</h5>`),
        figure,
        html(`<table class="attributes" data-testid="transit-stop-lines"><caption class="visually-hidden">${esc(t('transitDeparturesByLine'))}</caption><thead><tr><th scope="col">${esc(t('transitLine'))}</th><th scope="col">${esc(t('transitMode'))}</th><th scope="col">${esc(t('transitDeparturesHeading'))}</th></tr></thead><tbody>${rows}</tbody></table>`),
      );
    } else parts.push(html(`<p class="muted">${esc(t('transitNoDepartures'))}</p>`));
    body.replaceChildren(...parts);
  }

  // --- the panel --------------------------------------------------------------------------------

  /** Draw the panel from the state (feeds, the model's result, runs, the comparison). */
  render() {
    if (!this.panel) return;
    this.panel.querySelector('[data-testid="transit-model"]').textContent = t('transitModel');
    this.panel.querySelector('#transit-title').textContent = t('transitTitle');
    const close = this.panel.querySelector('.transit-close');
    close.setAttribute('aria-label', t('close'));
    close.title = t('close');
    const body = this.panel.querySelector('.transit-body');
    const focused = document.activeElement?.id;
    const feed = this.feed();
    const energy = this.energy;
    body.innerHTML = `
      <p class="simulated-line muted small">${esc(t('transitModelNote'))}</p>
      ${this.error ? `<p class="error">${esc(t('loadFailed', { what: this.error }))}</p>` : ''}
      ${this.feeds.length || this.error ? '' : `<p class="muted">${esc(t('transitNoFeeds'))}</p>`}
      <div class="energy-controls transit-controls">
        <label class="field"><span>${esc(t('transitFeed'))}</span><select id="transit-feed">${this.feeds
          .map((f) => `<option value="${esc(f.id)}" ${f.id === this.feedId ? 'selected' : ''}>${esc(f.title || f.id)}</option>`)
          .join('')}</select></label>
        <label class="field"><span>${esc(t('transitShowLine'))}</span><select id="transit-line"><option value="">${esc(t('transitChooseLine'))}</option>${(energy?.lines || [])
          .map((l) => `<option value="${esc(l.route_id)}">${esc([l.line, l.name].filter(Boolean).join(' · '))}</option>`)
          .join('')}</select></label>
      </div>
      ${feed ? `<p class="muted small" data-testid="transit-feed-source">${esc(feed.title || feed.id)}${feed.licence ? ` · ${esc(t('transitLicence', { licence: feed.licence }))}` : ''}${energy ? ` · ${esc(t('transitPeriod', { label: periodText(energy.period) }))} · ${esc(t('transitLines', { n: energy.lines.length }))}` : ''}</p>` : ''}
      <div class="segments" role="group" aria-label="${esc(t('transitColourBy'))}">${Object.entries(COLOUR_BY)
        .map(([key, how]) => `<button type="button" class="segment" data-colour="${key}" aria-pressed="${key === this.colourBy}">${esc(t(how.label))}</button>`)
        .join('')}</div>
      <div class="transit-legend legend"></div>
      ${energy ? this.vehicleTable() : feed && !this.error ? `<p class="muted">${esc(t('loading'))}</p>` : ''}
      ${feed ? this.runsSection() : ''}`;
    body.querySelector('#transit-feed').addEventListener('change', (e) => this.chooseFeed(e.target.value));
    body.querySelector('#transit-line').addEventListener('change', (e) => e.target.value && this.openLine(e.target.value));
    for (const button of body.querySelectorAll('[data-colour]')) {
      button.addEventListener('click', () => {
        this.colourBy = button.dataset.colour;
        this.render();
        this.paint();
        this.panel.querySelector(`[data-colour="${this.colourBy}"]`)?.focus();
      });
    }
    for (const box of body.querySelectorAll('input[data-run]')) {
      box.addEventListener('change', () => {
        this.picked = [...body.querySelectorAll('input[data-run]:checked')].map((b) => b.dataset.run);
        this.compare();
      });
    }
    if (focused) document.getElementById(focused)?.focus();
    this.renderLegend();
  }

  vehicleTable() {
    const rows = (this.energy.vehicle_types || [])
      .map(
        (v) =>
          `<tr><th scope="row">${esc(kind(v.vehicle_type))}</th><td>${esc(number(v.vehicle_km))} km</td><td>${esc(number(v.final_energy_kwh))} kWh</td><td>${esc(number(v.co2_wtw_kg))} kg</td></tr>`,
      )
      .join('');
    return `<h3>${esc(t('transitVehicleTypes'))} <span class="badge simulated">${esc(t('transitModel'))}</span></h3>
      <table class="attributes kpis" data-testid="transit-vehicle-types"><thead><tr><th scope="col">${esc(t('transitVehicleType'))}</th><th scope="col">${esc(t('transitVehicleKm'))}</th><th scope="col">${esc(t('transitFinalEnergy'))}</th><th scope="col">${esc(t('transitCo2'))}</th></tr></thead><tbody>${rows}</tbody></table>`;
  }

  runsSection() {
    const list = this.runs.length
      ? `<p class="muted small">${esc(t('transitPickRuns'))}</p><ul class="transit-runs">${this.runs
          .map(
            (r) =>
              `<li><label><input type="checkbox" id="transit-run-${esc(r.id)}" data-run="${esc(r.id)}" ${this.picked.includes(r.id) ? 'checked' : ''}/> ${esc(r.title || r.name)} <span class="muted small">${esc(r.day)}</span></label></li>`,
          )
          .join('')}</ul>`
      : `<p class="muted">${esc(t('transitNoRuns'))}</p>`;
    return `<h3>${esc(t('transitScenarios'))} <span class="badge simulated">${esc(t('transitModel'))}</span></h3>${list}<div class="transit-comparison">${this.comparisonTable()}</div>`;
  }

  async compare() {
    const picked = [...this.picked];
    if (!picked.length) {
      this.comparison = null;
    } else {
      try {
        const query = picked.map((id) => `run=${encodeURIComponent(id)}`).join('&');
        const doc = await getJSON(`api/transit/compare?${query}`);
        if (picked.join() !== this.picked.join()) return; // ticked again meanwhile
        this.comparison = doc;
      } catch (error) {
        this.comparison = { error: error.message };
      }
    }
    const box = this.panel.querySelector('.transit-comparison');
    if (box) box.innerHTML = this.comparisonTable();
    this.panel.classList.toggle('comparing', (this.comparison?.columns?.length || 0) > 2);
  }

  /** The picked runs' KPIs beside the baseline of the first, with their change against it. */
  comparisonTable() {
    const doc = this.comparison;
    if (!doc) return '';
    if (doc.error) return `<p class="error">${esc(t('loadFailed', { what: doc.error }))}</p>`;
    const columns = doc.columns || [];
    const head = columns.map((c) => `<th scope="col" data-column="${esc(c.id)}">${esc(c.id === 'baseline' ? t('transitBaseline') : c.title)}</th>`).join('');
    const cell = (column, key) => {
      const value = column.kpis?.[key];
      if (value === null || value === undefined) return '–';
      const change = column.change?.[key];
      const signed = Number.isFinite(change) && change !== 0 ? ` <span class="muted small">(${change > 0 ? '+' : '−'}${esc(number(Math.abs(change)))})</span>` : '';
      return `${esc(number(value))}${signed}`;
    };
    const rows = (doc.keys || [])
      .filter((key) => key in KPI && columns.some((c) => Number(c.kpis?.[key])))
      .map((key) => `<tr><th scope="row">${esc(t(KPI[key]))}</th>${columns.map((c) => `<td>${cell(c, key)}</td>`).join('')}</tr>`)
      .join('');
    return `<table class="attributes kpis" data-testid="transit-compare"><caption class="visually-hidden">${esc(t('transitScenarios'))} (${esc(t('transitModel'))})</caption>
      <thead><tr><th scope="col">${esc(t('transitFigure'))}</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
  }
}
