// The clean-air view: the air-quality stations on the map in the colour of the European Air Quality
// Index (EEA bands) of their latest hour, a traffic light per station against each standard (EU
// 2008/50/EC, EU 2024/2881, WHO 2021), a station's exceedance calendar (the days a limit value was
// exceeded), the districts coloured by the residents' estimated exposure, and each verdict in plain
// German or English. The data come from the clean-air API (/api/air/…) and the district exposure
// (/api/districts/{collection}/air, docs/air.md). The view draws layers of its own and changes no other
// layer's visibility, so closing it leaves the map as it was. Loaded when the view is first opened.

import { getJSON } from './api.js';
import { formatNumber, language, t } from './i18n.js';
import { NO_VALUE, VALUE_RAMP, rampLegend } from './layers.js';
import './air-strings.js';
import { SideView } from './sideview.js';
import { esc } from './ui.js';

const STATIONS = 'air::stations';
const DISTRICTS = 'air::districts';
const DISTRICT_LINES = 'air::district-lines';
const POLLUTANTS = ['no2', 'pm10', 'pm25'];
/** Exposure bins (µg/m³) per pollutant: the WHO 2021 level, the 2030 EU level, half-way, the 2008 EU level. */
const BREAKS = { no2: [10, 20, 30, 40], pm10: [15, 20, 30, 40], pm25: [5, 10, 15, 25] };
/** A traffic light per verdict: the worst of a standard's checks counts. */
const LIGHT = { exceeded: '#d7191c', insufficient_data: '#9aa0a6', no_data: '#9aa0a6', met: '#1a9850' };
const ORDER = ['exceeded', 'insufficient_data', 'no_data', 'met'];
const VERDICT_TEXT = { exceeded: 'airVerdictExceeded', insufficient_data: 'airVerdictInsufficient', no_data: 'airVerdictNoData', met: 'airVerdictMet' };
const POLLUTANT_TEXT = { no2: 'airPollutantNo2', pm10: 'airPollutantPm10', pm25: 'airPollutantPm25' };

const local = (labels) => (labels && (labels[language()] ?? labels.en)) || '';
const number = (value, digits = 1) => (Number.isFinite(value) ? formatNumber(value, digits) : '–');

/** The worst verdict of the checks (exceeded, then insufficient data, then met). */
export function worst(checks) {
  const found = new Set(checks.map((c) => c.verdict));
  return ORDER.find((v) => found.has(v)) ?? 'no_data';
}

/** The local dates (YYYY-MM-DD) of the year on which any daily or hourly value exceeded its level. */
export function exceedanceDays(checks) {
  const days = new Set();
  for (const check of checks) {
    if (check.statistic !== 'day' && check.statistic !== 'hour' && check.statistic !== 'max8h') continue;
    for (const period of check.exceedancePeriods || []) {
      // `end` is the period's end in local standard time: a day ends at 00:00 of the next, an hour at :00.
      const end = new Date(`${period.end.slice(0, 19)}Z`);
      end.setUTCMinutes(end.getUTCMinutes() - 1);
      days.add(end.toISOString().slice(0, 10));
    }
  }
  return days;
}

export class AirView extends SideView {
  constructor(map, options = {}) {
    super(map, 'air', options);
    this.stations = []; // {id, name, position, assessment, index}
    this.standards = [];
    this.year = null;
    this.pollutant = 'no2';
    this.standard = null; // the standard of the calendar
    this.picked = null;
    this.exposure = null;
    this.collection = null;
  }

  /** The stations, their positions and the latest year with data, then that year. */
  async load() {
    try {
      const [listing, standards, districts] = await Promise.all([getJSON('api/air/stations'), getJSON('api/air/standards'), getJSON('api/districts').catch(() => ({ collections: [] }))]);
      this.standards = standards.standards || [];
      this.standard = this.standard ?? this.standards[1]?.id ?? this.standards[0]?.id ?? null;
      this.collection = (districts.collections || [])[0]?.collection ?? null;
      this.stations = await Promise.all(
        (listing.stations || []).map(async (s) => {
          const located = await getJSON(`v1.1/Things(${s['@iot.id']})/Locations`).catch(() => ({ value: [] }));
          const point = located.value?.map((l) => l.location?.geometry ?? l.location).find((g) => g?.type === 'Point');
          return { id: s['@iot.id'], name: s.name, pollutants: s.pollutants, position: point?.coordinates ?? null };
        }),
      );
      if (this.year === null) this.year = await this.latestYear();
      this.error = null;
    } catch (error) {
      this.error = error.message;
    }
    await this.chooseYear(this.year);
  }

  /** The latest year any station's Datastreams have values in (their phenomenonTime's end). */
  async latestYear() {
    let latest = null;
    const ids = this.stations.flatMap((s) => Object.values(s.pollutants || {}).map((d) => d['@iot.id']));
    for (const id of ids) {
      const stream = await getJSON(`v1.1/Datastreams(${id})`, { params: { $select: 'phenomenonTime' } }).catch(() => null);
      const end = String(stream?.phenomenonTime || '').split('/').pop();
      if (!end) continue;
      const year = new Date(new Date(end).getTime() - 1).getUTCFullYear();
      if (Number.isFinite(year) && (latest === null || year > latest)) latest = year;
    }
    return latest ?? new Date().getFullYear() - 1;
  }

  async chooseYear(year) {
    this.year = year;
    this.render();
    if (!year) return;
    await Promise.all(
      this.stations.map(async (station) => {
        try {
          station.assessment = await getJSON(`api/air/stations/${station.id}/assessment`, { params: { year: String(year) } });
        } catch (error) {
          station.assessment = null;
          station.error = error.message;
        }
        station.index = await this.latestIndex(station).catch(() => null);
      }),
    );
    if (this.year !== year) return;
    await this.loadExposure();
    this.render();
    this.drawStations();
  }

  /** The index of the station's latest hour with a band in the last week of the year. */
  async latestIndex(station) {
    const start = `${this.year}-12-25`;
    const end = `${this.year + 1}-01-01`;
    const answer = await getJSON(`api/air/stations/${station.id}/index`, { params: { start, end } });
    this.bands = this.bands || answer.bands;
    const hours = (answer.hours || []).filter((h) => h.band);
    return hours.length ? hours[hours.length - 1] : null;
  }

  async loadExposure() {
    this.exposure = null;
    if (!this.collection) return;
    try {
      this.exposure = await getJSON(`api/districts/${encodeURIComponent(this.collection)}/air`, { params: { year: String(this.year) } });
      if (!this.districtShapes) {
        this.districtShapes = await getJSON(`ogcapi/collections/${encodeURIComponent(this.collection)}/items`, { params: { limit: '1000', f: 'json' } });
      }
    } catch (error) {
      this.exposureError = error.message;
    }
    this.drawDistricts();
  }

  // --- the map ----------------------------------------------------------------------------------

  drawStations() {
    const features = this.stations
      .filter((s) => s.position)
      .map((s) => ({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: s.position },
        properties: { id: s.id, name: s.name, colour: s.index?.colour ?? NO_VALUE },
      }));
    const data = { type: 'FeatureCollection', features };
    const source = this.map.getSource(STATIONS);
    if (source) return source.setData(data);
    this.map.addSource(STATIONS, { type: 'geojson', data });
    this.map.addLayer(
      {
        id: STATIONS,
        type: 'circle',
        source: STATIONS,
        metadata: { entry: 'air' }, // clickable (main.js `interactive`)
        paint: { 'circle-radius': 9, 'circle-color': ['get', 'colour'], 'circle-stroke-color': '#1f2933', 'circle-stroke-width': 2 },
      },
      this.beforeId,
    );
  }

  districtColour() {
    const rows = this.exposure?.districts || [];
    const breaks = BREAKS[this.pollutant];
    const pairs = [];
    for (const row of rows) {
      const value = row.pollutants?.[this.pollutant]?.exposure;
      if (!Number.isFinite(value)) continue;
      const bin = breaks.filter((b) => value > b).length;
      pairs.push(String(row.id), VALUE_RAMP[Math.min(bin, VALUE_RAMP.length - 1)]);
    }
    return pairs.length ? ['match', ['to-string', ['id']], ...pairs, NO_VALUE] : NO_VALUE;
  }

  drawDistricts() {
    if (!this.districtShapes || !this.isOpen) return;
    const colour = this.districtColour();
    if (this.map.getLayer(DISTRICTS)) {
      this.map.setPaintProperty(DISTRICTS, 'fill-color', colour);
      return;
    }
    this.map.addSource(DISTRICTS, { type: 'geojson', data: this.districtShapes });
    const below = this.map.getLayer(STATIONS) ? STATIONS : this.beforeId;
    this.map.addLayer({ id: DISTRICTS, type: 'fill', source: DISTRICTS, paint: { 'fill-color': colour, 'fill-opacity': 0.55 } }, below);
    this.map.addLayer({ id: DISTRICT_LINES, type: 'line', source: DISTRICTS, paint: { 'line-color': '#ffffff', 'line-width': 1 } }, below);
  }

  removeLayers() {
    this.removeFromMap([STATIONS, DISTRICT_LINES, DISTRICTS], [STATIONS, DISTRICTS]);
  }

  owns(hit) {
    return hit?.layer?.id === STATIONS;
  }

  inspect(hit) {
    this.pick(Number(hit.properties.id));
  }

  pick(id) {
    this.picked = id;
    this.render();
    this.panel.querySelector('[data-testid="air-calendar"]')?.scrollIntoView({ block: 'nearest' });
  }

  // --- the panel --------------------------------------------------------------------------------

  createPanel() {
    super.createPanel();
    this.panel.addEventListener('change', (event) => {
      const target = event.target;
      if (target.matches('[data-air="year"]')) this.chooseYear(Number(target.value));
      if (target.matches('[data-air="pollutant"]')) {
        this.pollutant = target.value;
        this.render();
        this.drawDistricts();
      }
      if (target.matches('[data-air="standard"]')) {
        this.standard = target.value;
        this.render();
      }
    });
    this.panel.addEventListener('click', (event) => {
      const row = event.target.closest('[data-station]');
      if (row) this.pick(Number(row.dataset.station));
    });
  }

  render() {
    if (!this.panel) return;
    this.panel.querySelector('.air-close').setAttribute('aria-label', t('close'));
    this.panel.querySelector('#air-title').textContent = t('airTitle');
    const body = this.panel.querySelector('.air-body');
    if (this.error) {
      body.innerHTML = `<p class="error">${esc(t('loadFailed', { what: this.error }))}</p>`;
      return;
    }
    if (!this.stations.length) {
      body.innerHTML = `<p>${esc(t('airNoStations'))}</p>`;
      return;
    }
    const years = [];
    for (let y = (this.year ?? 2024) + 1; y >= (this.year ?? 2024) - 10; y -= 1) years.push(y);
    body.innerHTML = `
      <p>${esc(t('airIntro'))}</p>
      <label class="field">${esc(t('airYear'))}
        <select data-air="year">${years.map((y) => `<option value="${y}"${y === this.year ? ' selected' : ''}>${y}</option>`).join('')}</select></label>
      <h3>${esc(t('airStations', { n: this.stations.length }))}</h3>
      ${this.stationTable()}
      ${this.indexLegend()}
      ${this.calendar()}
      ${this.exposureSection()}`;
  }

  stationTable() {
    const heads = this.standards.map((s) => `<th scope="col" title="${esc(local({ en: s.title?.en ?? s.name, de: s.title?.de ?? s.name }))}">${esc(s.name)}</th>`).join('');
    const rows = this.stations
      .map((station) => {
        const checks = station.assessment?.checks || [];
        const lights = this.standards
          .map((s) => {
            const verdict = station.assessment ? worst(checks.filter((c) => c.standard === s.id)) : 'no_data';
            return `<td><span class="air-light" data-verdict="${verdict}" style="background:${LIGHT[verdict]}" aria-hidden="true"></span> <span class="air-verdict">${esc(t(VERDICT_TEXT[verdict]))}</span></td>`;
          })
          .join('');
        const index = station.index ? `<span class="air-swatch" style="background:${esc(station.index.colour)}" aria-hidden="true"></span> ${esc(local(station.index.label))}` : esc(t('airNoIndex'));
        return `<tr data-station="${station.id}"${station.id === this.picked ? ' aria-current="true"' : ''}>
          <th scope="row"><button type="button" class="link-button">${esc(station.name)}</button></th>
          <td data-testid="air-index">${index}</td>${lights}</tr>`;
      })
      .join('');
    return `<table class="air-stations" data-testid="air-stations"><thead><tr><th scope="col">${esc(t('airStation'))}</th><th scope="col">${esc(t('airIndex'))}</th>${heads}</tr></thead><tbody>${rows}</tbody></table>
      <p class="note">${esc(t('airLightsNote'))}</p>`;
  }

  /** The EEA index bands with their colours (from an index answer). */
  indexLegend() {
    if (!this.bands?.length) return '';
    const items = this.bands.map((b) => `<li><span class="air-swatch" style="background:${esc(b.colour)}" aria-hidden="true"></span> ${esc(local(b.label))}</li>`).join('');
    return `<div class="air-bands" data-testid="air-bands"><p class="note">${esc(t('airIndexNote'))}</p><ul>${items}</ul></div>`;
  }

  calendar() {
    const station = this.stations.find((s) => s.id === this.picked);
    if (!station) return `<p class="note">${esc(t('airPickStation'))}</p>`;
    const checks = (station.assessment?.checks || []).filter((c) => c.standard === this.standard);
    const days = exceedanceDays(checks.filter((c) => c.verdict !== 'no_data'));
    const year = this.year;
    const months = [];
    for (let m = 0; m < 12; m += 1) {
      const length = new Date(Date.UTC(year, m + 1, 0)).getUTCDate();
      const cells = [];
      for (let d = 1; d <= length; d += 1) {
        const key = `${year}-${String(m + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
        const bad = days.has(key);
        cells.push(`<span class="air-day${bad ? ' exceeded' : ''}" data-day="${key}" title="${key}${bad ? ` · ${esc(t('airExceeded'))}` : ''}"></span>`);
      }
      const name = new Intl.DateTimeFormat(language(), { month: 'short', timeZone: 'UTC' }).format(new Date(Date.UTC(year, m, 1)));
      months.push(`<div class="air-month"><span class="air-month-name">${esc(name)}</span>${cells.join('')}</div>`);
    }
    const options = this.standards.map((s) => `<option value="${esc(s.id)}"${s.id === this.standard ? ' selected' : ''}>${esc(s.name)}</option>`).join('');
    const texts = checks
      .filter((c) => c.verdict === 'exceeded' || c.verdict === 'insufficient_data')
      .map((c) => `<li>${esc(c.pollutant.toUpperCase())}, ${esc(local(c.statisticLabel))}: ${esc(local(c.text))}</li>`)
      .join('');
    return `<section data-testid="air-calendar" data-station="${station.id}">
      <h3>${esc(t('airCalendarOf', { name: station.name }))}</h3>
      <label class="field">${esc(t('airStandard'))} <select data-air="standard">${options}</select></label>
      <p data-testid="air-summary">${esc(this.summary(station, checks, days.size))}</p>
      <div class="air-calendar">${months.join('')}</div>
      <p class="note"><span class="air-day exceeded" aria-hidden="true"></span> ${esc(t('airCalendarLegend'))}</p>
      ${texts ? `<ul class="air-texts">${texts}</ul>` : ''}
    </section>`;
  }

  /** One plain-language sentence about the station under the chosen standard. */
  summary(station, checks, days) {
    const verdict = worst(checks);
    const standard = this.standards.find((s) => s.id === this.standard);
    const name = local(standard?.title) || standard?.name || '';
    if (verdict === 'met') return t('airSummaryMet', { station: station.name, year: this.year, standard: name });
    if (verdict === 'exceeded') return t('airSummaryExceeded', { station: station.name, year: this.year, standard: name, n: days });
    return t('airSummaryInsufficient', { station: station.name, year: this.year, standard: name });
  }

  exposureSection() {
    if (!this.collection) return '';
    const options = POLLUTANTS.map((p) => `<option value="${p}"${p === this.pollutant ? ' selected' : ''}>${esc(t(POLLUTANT_TEXT[p]))}</option>`).join('');
    const rows = (this.exposure?.districts || [])
      .filter((row) => row.residents > 0)
      .map((row) => {
        const figures = row.pollutants?.[this.pollutant];
        const share = figures?.exceedances?.['eu-2024-2881']?.share;
        return `<tr data-district="${esc(row.id)}"><th scope="row">${esc(row.name)}</th><td>${number(figures?.exposure)}</td><td>${Number.isFinite(share) ? `${number(share * 100, 0)} %` : '–'}</td></tr>`;
      })
      .join('');
    const breaks = BREAKS[this.pollutant];
    const labels = [`≤ ${breaks[0]}`, ...breaks.slice(1).map((b, k) => `${breaks[k]}–${b}`), `> ${breaks[breaks.length - 1]}`];
    const estimated = (this.exposure?.districts || []).some((row) => Number.isFinite(row.pollutants?.[this.pollutant]?.exposure));
    return `<section data-testid="air-exposure">
      <h3>${esc(t('airExposure'))}</h3>
      <label class="field">${esc(t('airPollutant'))} <select data-air="pollutant">${options}</select></label>
      <p class="note">${esc(local(this.exposure?.method?.label))}. ${esc(local(this.exposure?.caveat))}</p>
      ${estimated ? '' : `<p data-testid="air-no-estimate">${esc(local(this.exposure?.noStations) || t('airNoEstimate'))}</p>`}
      <p class="note">${esc(t('airExposureLegend'))} (µg/m³)</p>${rampLegend(VALUE_RAMP.slice(0, labels.length), labels, { color: NO_VALUE, label: t('airNoEstimateShort') })}
      <table class="air-districts"><thead><tr><th scope="col">${esc(t('airDistrict'))}</th><th scope="col">${esc(t('airExposureColumn'))}</th><th scope="col">${esc(t('airAboveEu2030'))}</th></tr></thead><tbody>${rows}</tbody></table>
    </section>`;
  }
}
