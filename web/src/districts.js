// Districts: a choropleth of a statistic per district (residents, residents per km², change since the
// first year) for the year the time slider shows, and a profile of a district with its residents over
// the years. The city's profile names its district collections, the property holding each district's
// name and those holding its population per year (`populationKey(year)`, from `layers.js`); the
// class breaks are quantiles over all years, so a colour means the same in every year of a replay.
// Sensor means: for an ObservedProperty, the mean value of the sensors inside each district (the
// latest values, or those at the time slider's time), computed by the server
// (`api/timeseries/districts`: one small document instead of every polygon and sensor); districts
// without sensors are drawn as "no data", and the number of sensors is in the legend and profile.
// The buildings follow: a building with sensors of that property inside takes the colour of their mean
// (at the same time, in the same classes; asked with `occupied=true`, so only those buildings come
// back), the others keep their height colours.
// The platform's figures (`api/districts/…`, docs/districts.md) are statistics too: street trees per
// resident, charging points per 1,000 residents, the share of residents within 300 m of a stop, and
// the floor-area ratio (GFZ) of the land use. Each follows the time slider: the server is asked for the
// year shown (`year=`: that year's residents, the features valid and the timetables in service then)
// and says which of its inputs have no history (`as_of.labels`), which the legend and the profile show. Land use adds two map layers: the blocks
// coloured by their GFZ and the ranked infill candidates, each with its reasons. A district's profile
// compares it with another of its level (`…/compare`).

import { apiUrl, getJSON } from './api.js';
import { timeChart } from './chart.js';
import { formatNumber, labelled, language, t, unitText } from './i18n.js';
import { buildingColor } from './layers.js';
import { esc, html, openPanel } from './ui.js';

const SEQUENTIAL = ['#f1eef6', '#bdc9e1', '#74a9cf', '#2b8cbe', '#045a8d'];
const DIVERGING = ['#ca0020', '#f4a582', '#f7f7f7', '#92c5de', '#0571b0'];
const NO_DATA = '#d9d9d9';
export const STATS = ['none', 'population', 'density', 'change'];
/** The platform's figures a district can be coloured by (`api/districts/…`). */
export const PLATFORM_STATS = ['trees_per_inhabitant', 'charging_per_1000', 'access300', 'gfz'];
/** Where each of them is asked (`api/districts/<collection><tail>?year=`) and how it is read. */
const FIGURE_SOURCE = {
  trees_per_inhabitant: { tail: '', value: (d) => d.figures?.trees?.per_inhabitant },
  charging_per_1000: { tail: '', value: (d) => d.figures?.charging?.per_1000_inhabitants },
  access300: { tail: '/access', params: { min_departures: '0' }, value: (d) => (typeof d.within?.['300'] === 'number' ? d.within['300'] * 100 : null) },
  gfz: { tail: '/landuse', value: (d) => d.gfz },
};
const isPlatformStat = (stat) => PLATFORM_STATS.includes(stat);
const GFZ_BREAKS = [0.2, 0.4, 0.8, 1.2];
const SHARE_BREAKS = [20, 40, 60, 80];
const INFILL_COLOUR = '#d7301f';
/** A sensor statistic: `sensor:<ObservedProperty id>`. */
export const isSensorStat = (stat) => /^sensor:\d+$/.test(String(stat));
const sensorProperty = (stat) => Number(String(stat).slice('sensor:'.length));

export class Districts {
  constructor(map, collections, { onChange, sensorProperties, buildings } = {}) {
    this.map = map;
    this.collections = collections; // descriptors of the district collections, largest first
    this.onChange = onChange || (() => {});
    this.level = collections[0]?.id || null;
    this.stat = 'none';
    this.year = null;
    this.data = new Map(); // collection id → [{id, properties}]
    this.selected = null;
    /** The ObservedProperties a sensor mean can be shown for: () → [{id, title}]. */
    this.sensorProperties = sensorProperties || (() => []);
    this.time = null; // ms, or null for the latest values
    this.means = null; // the server's answer for the sensor statistic shown
    this.request = 0;
    /** The building collections shown: () → descriptors. */
    this.buildings = buildings || (() => []);
    this.buildingMeans = new Map(); // building collection id → the server's answer (occupied only)
    this.figures = new Map(); // `${collection}|${stat}|${year}` → promise of {values: Map(id → value), asOf}
    this.shown = null; // the district profile shown: {collectionId, feature, body}
    this.landUse = { blocks: false, infill: false };
  }

  get current() {
    return this.collections.find((c) => c.id === this.level) || null;
  }

  years() {
    return this.current?.years || [];
  }

  /** The time extent the statistics cover (for the time slider), when a statistic is shown. */
  extent() {
    const years = this.years();
    if (this.stat === 'none' || isSensorStat(this.stat) || !years.length) return null;
    return [Date.UTC(years[0], 0, 1), Date.UTC(years[years.length - 1], 11, 31, 23)];
  }

  /** The year to show for a time: the time's year, held to the years there are. */
  yearFor(time) {
    const years = this.years();
    if (!years.length) return null;
    if (time === null || time === undefined) return years[years.length - 1];
    const year = new Date(time).getUTCFullYear();
    return Math.min(Math.max(year, years[0]), years[years.length - 1]);
  }

  renderControls(container, legend) {
    this.container = container;
    this.legend = legend;
    if (!this.collections.length) {
      container.closest('section').hidden = true;
      return;
    }
    // The section is called as the city calls its districts (its profile's label), else "Districts".
    const heading = container.closest('section').querySelector('h2');
    if (heading) heading.textContent = districtsLabel(this.current);
    const levels = this.collections.map((c) => `<option value="${esc(c.id)}" ${c.id === this.level ? 'selected' : ''}>${esc(districtsLabel(c))}</option>`).join('');
    const withPopulation = this.years().length > 0;
    const stats = STATS.filter((s) => s === 'none' || withPopulation)
      .filter((s) => s !== 'density' || this.current?.hasArea)
      .map((s) => `<option value="${s}" ${s === this.stat ? 'selected' : ''}>${esc(statLabel(s, this.years()[0]))}</option>`)
      .join('');
    const platformStats = PLATFORM_STATS.filter((s) => withPopulation || s === 'gfz')
      .map((s) => `<option value="${s}" ${s === this.stat ? 'selected' : ''}>${esc(statLabel(s))}</option>`)
      .join('');
    const sensorStats = this.sensorProperties()
      .map((p) => `<option value="sensor:${p.id}" ${`sensor:${p.id}` === this.stat ? 'selected' : ''}>${esc(t('sensorMean', { name: p.title }))}</option>`)
      .join('');
    container.innerHTML = `
      <label class="field"><span>${esc(t('statistic'))}</span><select id="district-stat">${stats}<optgroup label="${esc(t('platformFigures'))}">${platformStats}</optgroup>${sensorStats ? `<optgroup label="${esc(t('sensors'))}">${sensorStats}</optgroup>` : ''}</select></label>
      <label class="field" ${this.collections.length > 1 ? '' : 'hidden'}><span>${esc(t('areaLevel'))}</span><select id="district-level">${levels}</select></label>
      <fieldset class="land-use"><legend>${esc(t('landUse'))}</legend>
        <label><input type="checkbox" id="landuse-blocks" ${this.landUse.blocks ? 'checked' : ''}/> ${esc(t('landUseBlocks'))}</label>
        <label><input type="checkbox" id="landuse-infill" ${this.landUse.infill ? 'checked' : ''}/> ${esc(t('landUseInfill'))}</label>
        <p class="muted small" data-testid="landuse-status" aria-live="polite"></p>
      </fieldset>`;
    container.querySelector('#district-stat').addEventListener('change', (e) => this.setStat(e.target.value));
    container.querySelector('#landuse-blocks').addEventListener('change', (e) => this.showLandUse('blocks', e.target.checked));
    container.querySelector('#landuse-infill').addEventListener('change', (e) => this.showLandUse('infill', e.target.checked));
    container.querySelector('#district-level').addEventListener('change', (e) => this.setLevel(e.target.value));
    this.renderLegend();
  }

  async setLevel(id) {
    this.level = id;
    this.onChange('level', id);
    await this.setStat(this.stat);
  }

  async setStat(stat) {
    const known = STATS.includes(stat) || isPlatformStat(stat) || (isSensorStat(stat) && this.sensorProperties().some((p) => p.id === sensorProperty(stat)));
    this.stat = known ? stat : 'none';
    const select = this.container?.querySelector('#district-stat');
    if (select && select.value !== this.stat) select.value = this.stat;
    if (isSensorStat(this.stat)) await this.loadMeans();
    else if (isPlatformStat(this.stat)) await this.loadShownFigures();
    else if (this.stat !== 'none') await this.load(this.level);
    this.paint();
    this.onChange('stat', this.stat);
  }

  setYear(year) {
    if (year === this.year) return;
    this.year = year;
    if (isPlatformStat(this.stat)) {
      // the server's figures of that year; the newest year asked wins
      this.loadShownFigures().then(() => year === this.year && this.paint());
    } else if (this.stat !== 'none' && !isSensorStat(this.stat)) this.paint();
    this.renderProfileYear();
  }

  /** The year the figures are asked for: the slider's, else the latest of the population series (none
   * for a collection without one). */
  shownYear() {
    return this.year ?? this.yearFor(null);
  }

  /** The shown figure for the shown year and the latest year (whose values set the class breaks). */
  async loadShownFigures() {
    const latest = this.yearFor(null);
    await Promise.all([this.load(this.level), this.loadFigures(this.level, this.stat, this.shownYear()), this.loadFigures(this.level, this.stat, latest)]);
  }

  /** The platform's figure per district of a collection as of a year (asked once per collection,
   * figure and year): {values: Map(district id → value), asOf: the server's `as_of`}. */
  loadFigures(collectionId, stat, year) {
    const key = `${collectionId}|${stat}|${year}`;
    if (!this.figures.has(key)) {
      const source = FIGURE_SOURCE[stat];
      const params = { ...(source.params || {}), ...(year === null || year === undefined ? {} : { year: String(year) }) };
      const asked = getJSON(`api/districts/${encodeURIComponent(collectionId)}${source.tail}`, { params })
        .then((answer) => {
          const values = new Map();
          for (const d of answer.districts) {
            const value = source.value(d);
            if (typeof value === 'number') values.set(String(d.id), value);
          }
          return { values, asOf: answer.as_of || null };
        })
        // the districts module is not there, or the collection is no district collection: no data
        .catch(() => ({ values: new Map(), asOf: null }))
        .then((found) => {
          this.resolved ??= new Map();
          this.resolved.set(key, found);
          return found;
        });
      this.figures.set(key, asked);
    }
    return this.figures.get(key);
  }

  /** The figures of the shown level and statistic for a year, once the server has answered. */
  figuresOf(stat = this.stat, year = this.shownYear()) {
    return this.resolved?.get(`${this.level}|${stat}|${year}`) || null;
  }

  /** A platform figure of a district for the year shown (null: none). */
  figureOf(id, stat = this.stat, year = this.shownYear()) {
    const found = this.figuresOf(stat, year)?.values.get(String(id));
    return found === undefined ? null : found;
  }

  /** Show or hide a land-use layer (`blocks`: GFZ per block; `infill`: the ranked candidates). */
  async showLandUse(which, on) {
    this.landUse[which] = on;
    const source = `landuse-${which}`;
    const layer = `${source}::fill`;
    const status = this.container?.querySelector('[data-testid="landuse-status"]');
    if (!on) {
      if (this.map.getLayer(layer)) this.map.setLayoutProperty(layer, 'visibility', 'none');
      if (this.map.getLayer(`${source}::line`)) this.map.setLayoutProperty(`${source}::line`, 'visibility', 'none');
      this.onChange('landuse', which);
      return;
    }
    const tail = which === 'blocks' ? '/landuse/blocks' : '/landuse/infill';
    const params = which === 'infill' ? { min_departures: '0' } : {};
    let answer;
    try {
      answer = await getJSON(`api/districts/${encodeURIComponent(this.level)}${tail}`, { params });
    } catch (error) {
      if (status) status.textContent = t('loadFailed', { what: error.message });
      return;
    }
    if (!this.landUse[which]) return;
    if (this.map.getSource(source)) this.map.getSource(source).setData(answer);
    else this.map.addSource(source, { type: 'geojson', data: answer });
    if (!this.map.getLayer(layer)) {
      if (which === 'blocks') {
        const steps = SEQUENTIAL.flatMap((color, i) => (i === 0 ? [color] : [GFZ_BREAKS[i - 1], color]));
        this.map.addLayer({ id: layer, type: 'fill', source, paint: { 'fill-color': ['step', ['to-number', ['get', 'gfz']], ...steps], 'fill-opacity': 0.7 } });
      } else {
        this.map.addLayer({ id: layer, type: 'fill', source, paint: { 'fill-color': INFILL_COLOUR, 'fill-opacity': 0.35 } });
        this.map.addLayer({ id: `${source}::line`, type: 'line', source, paint: { 'line-color': INFILL_COLOUR, 'line-width': 2 } });
        this.map.on('click', layer, (e) => this.openCandidate(e.features?.[0]));
      }
    }
    this.map.setLayoutProperty(layer, 'visibility', 'visible');
    if (this.map.getLayer(`${source}::line`)) this.map.setLayoutProperty(`${source}::line`, 'visibility', 'visible');
    const n = answer.features.length;
    if (status) {
      status.textContent = which === 'blocks' ? t('landUseBlocksShown', { n }) : t('landUseInfillShown', { n });
      const grid = answer.blocks?.source === 'grid' ? ` ${t('landUseGrid', { m: formatNumber(answer.blocks.grid_m, 0) })}` : '';
      status.textContent += grid;
    }
    this.onChange('landuse', which);
  }

  /** An infill candidate's panel: its rank, GFZ, the walk to a stop and its reasons. */
  openCandidate(feature) {
    if (!feature) return;
    const p = feature.properties;
    const reasons = typeof p.reasons === 'string' ? JSON.parse(p.reasons) : p.reasons || [];
    const body = html(`<div class="district-panel" data-testid="infill-panel">
      <dl class="facts">
        <dt>${esc(t('infillRank'))}</dt><dd>${esc(formatNumber(p.rank, 0))}</dd>
        <dt>GFZ</dt><dd>${esc(formatNumber(p.gfz, 2))}</dd>
        <dt>GRZ</dt><dd>${esc(formatNumber(p.grz, 2))}</dd>
      </dl>
      ${reasons.map((r) => `<p class="small">${esc(labelled(r, ''))}</p>`).join('')}
      <p class="muted small">${esc(t('infillCaveat'))}</p>
    </div>`);
    openPanel({ kind: t('landUseInfill'), title: t('infillCandidate', { rank: p.rank }), body, panel: 'infill' });
  }

  /** The time the sensor means are for (ms; null: the latest values). */
  async setTime(time) {
    this.time = time ?? null;
    if (!isSensorStat(this.stat)) return;
    await this.loadMeans();
    this.paint();
  }

  /** The sensor means of the shown statistic for the level and time shown, and of the buildings with
   * sensors inside (the newest request wins). */
  async loadMeans() {
    const request = ++this.request;
    const params = (collection, occupied) => ({
      collection,
      observedProperty: sensorProperty(this.stat),
      time: this.time === null ? undefined : new Date(this.time).toISOString(),
      occupied,
    });
    const buildings = this.buildings();
    const [answer, ...perBuilding] = await Promise.all([
      getJSON('api/timeseries/districts', { params: params(this.level) }),
      ...buildings.map((b) => getJSON('api/timeseries/districts', { params: params(b.id, 'true') }).catch(() => null)),
    ]);
    if (request === this.request) {
      this.means = answer;
      this.buildingMeans = new Map(buildings.map((b, i) => [b.id, perBuilding[i]]).filter(([, a]) => a));
    }
    return answer;
  }

  /** The sensor mean of a building (by its `id` property), when a sensor statistic is shown. */
  buildingMeanOf(collectionId, id) {
    if (!isSensorStat(this.stat)) return null;
    return this.buildingMeans.get(collectionId)?.districts.find((d) => String(d.id) === String(id)) || null;
  }

  /** The row of the sensor means of a district (by its `id` property), when they are shown. */
  meanOf(id) {
    if (!isSensorStat(this.stat) || !this.means) return null;
    return this.means.districts.find((d) => String(d.id) === String(id)) || null;
  }

  async load(id) {
    if (this.data.has(id)) return this.data.get(id);
    const collection = this.collections.find((c) => c.id === id);
    const fields = [collection.nameProperty, 'area_km2', ...collection.years.map(collection.populationKey)];
    const page = await getJSON(`ogcapi/collections/${encodeURIComponent(id)}/items`, {
      params: { limit: 10000, properties: fields.join(',') },
    });
    const rows = page.features.map((f) => ({ id: f.id, properties: f.properties }));
    this.data.set(id, rows);
    return rows;
  }

  /** The value expression of the statistic for a year (MapLibre expression). */
  expression(stat, year) {
    const first = this.years()[0];
    const key = this.current.populationKey;
    const pop = ['to-number', ['get', key(year)]];
    if (stat === 'population') return pop;
    if (stat === 'density') return ['/', pop, ['to-number', ['get', 'area_km2']]];
    return ['*', 100, ['-', ['/', pop, ['to-number', ['get', key(first)]]], 1]];
  }

  value(stat, properties, year) {
    const key = this.current?.populationKey;
    const pop = key ? properties[key(year)] : null;
    if (typeof pop !== 'number') return null;
    if (stat === 'population') return pop;
    if (stat === 'density') return properties.area_km2 ? pop / properties.area_km2 : null;
    const base = properties[key(this.years()[0])];
    return base ? (pop / base - 1) * 100 : null;
  }

  /** Class breaks: quantiles over every district and year (change: symmetric around 0). */
  breaks(stat) {
    if (stat === 'gfz') return GFZ_BREAKS;
    if (stat === 'access300') return SHARE_BREAKS;
    if (isPlatformStat(stat)) {
      // the latest year's values: a colour means the same in every year of a replay
      const values = [...(this.figuresOf(stat, this.yearFor(null))?.values.values() || [])].sort((a, b) => a - b);
      if (!values.length) return [0, 0, 0, 0];
      const q = (p) => values[Math.min(values.length - 1, Math.floor(p * values.length))];
      return [0.2, 0.4, 0.6, 0.8].map((p) => niceRound(q(p)));
    }
    if (isSensorStat(stat)) {
      const values = (this.means?.districts || []).map((d) => d.mean).filter((v) => v !== null).sort((a, b) => a - b);
      if (!values.length) return [0, 0, 0, 0];
      const q = (p) => values[Math.min(values.length - 1, Math.floor(p * values.length))];
      return [0.2, 0.4, 0.6, 0.8].map((p) => niceRound(q(p)));
    }
    const rows = this.data.get(this.level) || [];
    const values = rows.flatMap((r) => this.years().map((y) => this.value(stat, r.properties, y))).filter((v) => v !== null);
    if (stat === 'change') {
      const span = Math.max(...values.map(Math.abs), 1);
      const m = niceRound(span);
      return [-m / 4, -m / 40, m / 40, m / 4];
    }
    values.sort((a, b) => a - b);
    const q = (p) => values[Math.min(values.length - 1, Math.floor(p * values.length))];
    return [0.2, 0.4, 0.6, 0.8].map((p) => niceRound(q(p)));
  }

  paint() {
    this.paintBuildings();
    for (const c of this.collections) {
      const layer = `${c.id}::fill`;
      if (!this.map.getLayer(layer)) continue;
      const on = c.id === this.level && this.stat !== 'none';
      if (!on) {
        this.map.setPaintProperty(layer, 'fill-opacity', 0);
        continue;
      }
      const breaks = this.breaks(this.stat);
      const colors = this.stat === 'change' ? DIVERGING : SEQUENTIAL;
      if (isSensorStat(this.stat)) {
        // One colour per district, by its `id` (the feature key the tiles carry); no sensors: no data.
        const pairs = (this.means?.districts || []).filter((d) => d.mean !== null).flatMap((d) => [String(d.id), classColor(d.mean, breaks, colors)]);
        this.map.setPaintProperty(layer, 'fill-color', pairs.length ? ['match', ['to-string', ['get', 'id']], ...pairs, NO_DATA] : NO_DATA);
        this.map.setPaintProperty(layer, 'fill-opacity', 0.72);
        this.shownBreaks = breaks;
        continue;
      }
      if (isPlatformStat(this.stat)) {
        // One colour per district by its `id`, for the year shown where the figure follows it.
        const values = this.figuresOf()?.values || new Map();
        const pairs = [...values.keys()].flatMap((id) => {
          const v = this.figureOf(id);
          return typeof v === 'number' ? [id, classColor(v, breaks, colors)] : [];
        });
        this.map.setPaintProperty(layer, 'fill-color', pairs.length ? ['match', ['to-string', ['get', 'id']], ...pairs, NO_DATA] : NO_DATA);
        this.map.setPaintProperty(layer, 'fill-opacity', 0.72);
        this.shownBreaks = breaks;
        continue;
      }
      const year = this.year ?? this.yearFor(null);
      const value = this.expression(this.stat, year);
      const steps = colors.flatMap((color, i) => (i === 0 ? [color] : [breaks[i - 1], color]));
      this.map.setPaintProperty(layer, 'fill-color', ['case', ['has', this.current.populationKey(year)], ['step', value, ...steps], NO_DATA]);
      this.map.setPaintProperty(layer, 'fill-opacity', 0.72);
      this.shownBreaks = breaks;
    }
    this.renderLegend();
  }

  /** Buildings with sensors inside in the colour of their mean; the others (and all, without a sensor
   * statistic) in their own colours. */
  paintBuildings() {
    const sensorStat = isSensorStat(this.stat);
    const breaks = sensorStat ? this.breaks(this.stat) : null;
    for (const b of this.buildings()) {
      const layer = `${b.id}::extrusion`;
      if (!this.map.getLayer(layer)) continue;
      const rows = sensorStat ? (this.buildingMeans.get(b.id)?.districts || []).filter((d) => d.mean !== null) : [];
      const pairs = rows.flatMap((d) => [String(d.id), classColor(d.mean, breaks, SEQUENTIAL)]);
      this.map.setPaintProperty(layer, 'fill-extrusion-color', buildingColor(pairs));
    }
  }

  /** "Mean of NO2": the title of the sensor statistic shown. */
  legendTitle() {
    const name = this.sensorProperties().find((p) => p.id === sensorProperty(this.stat))?.title || '';
    return t('sensorMean', { name });
  }

  /** How many buildings are coloured by their sensors now. */
  coloredBuildings() {
    if (!isSensorStat(this.stat)) return 0;
    return [...this.buildingMeans.values()].reduce((n, a) => n + a.districts.filter((d) => d.mean !== null).length, 0);
  }

  renderLegend() {
    if (!this.legend) return;
    this.legend.hidden = this.stat === 'none' || !this.shownBreaks;
    if (this.legend.hidden) {
      this.legend.innerHTML = '';
      return;
    }
    const b = this.shownBreaks;
    const colors = this.stat === 'change' ? DIVERGING : SEQUENTIAL;
    const unit = this.stat === 'change' || this.stat === 'access300' ? ' %' : '';
    const labels = colors.map((_, i) =>
      i === 0 ? `< ${formatNumber(b[0])}${unit}` : i === colors.length - 1 ? `≥ ${formatNumber(b[i - 1])}${unit}` : `${formatNumber(b[i - 1])} – ${formatNumber(b[i])}${unit}`,
    );
    if (isSensorStat(this.stat)) {
      this.legend.innerHTML = this.sensorLegend(colors, labels);
      return;
    }
    const year = this.shownYear();
    const follows = year !== null && year !== undefined;
    const asOf = isPlatformStat(this.stat) ? this.figuresOf()?.asOf : null;
    this.legend.innerHTML = `
      <p class="legend-title">${esc(statLabel(this.stat, this.years()[0]))}${follows ? `, <strong data-testid="district-year">${year}</strong>` : ''}</p>
      <ul class="classes">${colors.map((c, i) => `<li><span class="swatch block" style="background:${c}"></span>${esc(labels[i])}</li>`).join('')}
        <li><span class="swatch block" style="background:${NO_DATA}"></span>${esc(t('noData'))}</li></ul>
      ${follows ? `<p class="muted small">${esc(t('yearFollowsTime'))}</p>` : ''}
      ${asOfList(asOf, year)}`;
  }

  sensorLegend(colors, labels) {
    const means = this.means;
    const unit = unitText(means?.unitOfMeasurement);
    const withSensors = (means?.districts || []).filter((d) => d.sensors > 0).length;
    const name = this.sensorProperties().find((p) => p.id === sensorProperty(this.stat))?.title || '';
    const when = this.time === null ? t('sensorMeanLatest') : t('sensorMeanAt', { hours: formatNumber(means?.holdHours ?? 24) });
    return `
      <p class="legend-title">${esc(t('sensorMean', { name }))}${unit ? ` (${esc(unit)})` : ''}</p>
      <ul class="classes">${colors.map((c, i) => `<li><span class="swatch block" style="background:${c}"></span>${esc(labels[i])}</li>`).join('')}
        <li><span class="swatch block" style="background:${NO_DATA}"></span>${esc(t('noSensors'))}</li></ul>
      <p class="muted small" data-testid="district-sensors">${esc(t('sensorsInDistricts', { sensors: t('sensorsCount', { n: means?.sensors ?? 0 }), inDistricts: t('inDistricts', { n: withSensors }) }))}</p>
      ${this.buildings().length ? `<p class="muted small" data-testid="building-sensors">${esc(t('buildingsWithSensors', { n: this.coloredBuildings() }))}</p>` : ''}
      <p class="muted small">${esc(when)}</p>`;
  }

  /** The profile of a district: facts for the year shown and the residents over all years. */
  openProfile(collectionId, feature) {
    const collection = this.collections.find((c) => c.id === collectionId);
    if (!collection) return;
    const props = feature.properties;
    this.select(collectionId, feature.id);
    // A district collection without population (the profile names none) has its area and sensors only.
    const years = collection.years;
    const population = (y) => (collection.populationKey ? props[collection.populationKey(y)] : undefined);
    const year = this.year ?? years[years.length - 1];
    const first = years[0];
    const points = years.map((y) => ({ x: Date.UTC(y, 6, 1), y: population(y), label: String(y) }));
    const id = props.id ?? feature.id;
    const chart = years.length
      ? `<h3 class="chart-title">${esc(t('populationOverTime', { from: first, to: years[years.length - 1] }))}</h3>
      <figure class="chart-box"></figure>`
      : '';
    const body = html(`<div class="district-panel">
      <dl class="facts" data-testid="district-facts"></dl>
      ${chart}
      <p><a href="${esc(apiUrl(`ogcapi/collections/${encodeURIComponent(collectionId)}/items/${encodeURIComponent(id)}`))}" target="_blank" rel="noopener">${esc(t('featureLink'))}</a></p>
      <div class="district-year"></div>
    </div>`);
    body.querySelector('.chart-box')?.append(
      timeChart(points, {
        unit: '',
        xDomain: [Date.UTC(first, 0, 1), Date.UTC(years[years.length - 1], 11, 31)],
        xFormat: (x) => String(new Date(x).getUTCFullYear()),
        highlightX: Date.UTC(year, 6, 1),
        summary: t('populationOverTime', { from: first, to: years[years.length - 1] }),
        color: '#2b8cbe',
      }),
    );
    this.shown = { collectionId, feature, body };
    this.renderProfileYear();
    openPanel({
      kind: `${t('districtProfile')} · ${collection.title}`,
      title: props[collection.nameProperty] || String(id),
      body,
      panel: 'district',
      closed: () => {
        this.select(null);
        this.shown = null;
      },
    });
    this.addComparison(collectionId, id, body);
  }

  /** The year-dependent parts of the profile shown, for the year shown (again when the slider moves):
   * its residents, density and change, and the platform's figures as of that year. */
  renderProfileYear() {
    if (!this.shown) return;
    const { collectionId, feature, body } = this.shown;
    const collection = this.collections.find((c) => c.id === collectionId);
    const props = feature.properties;
    const years = collection.years;
    const population = (y) => (collection.populationKey ? props[collection.populationKey(y)] : undefined);
    const year = this.year ?? years[years.length - 1];
    const first = years[0];
    const pop = years.length ? population(year) : undefined;
    const base = years.length ? population(first) : undefined;
    const facts = [
      typeof pop === 'number' ? [t('population'), `${formatNumber(pop)} (${year})`] : null,
      props.area_km2 ? [t('area'), `${formatNumber(props.area_km2, 2)} km²`] : null,
      props.area_km2 && pop ? [t('density'), formatNumber(pop / props.area_km2, 0)] : null,
      base && pop ? [t('change', { year: first }), `${pop >= base ? '+' : ''}${formatNumber((pop / base - 1) * 100)} %`] : null,
      ...this.sensorFacts(props.id ?? feature.id),
    ].filter(Boolean);
    body.querySelector('.facts').innerHTML = facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
    const holder = body.querySelector('.district-year');
    holder.dataset.year = String(years.length ? year : '');
    this.addFigures(collectionId, props.id ?? feature.id, holder, years.length ? year : null);
  }

  /** The platform's figures of the district as of the year (`api/districts/…?year=`, docs/districts.md):
   * buildings, trees, charging points, WLAN sites, stops, each labelled by the server in both languages,
   * and which of their inputs have no history; nothing where the districts module is not there or the
   * collection is no district collection. */
  async addFigures(collectionId, id, holder, year) {
    const params = year === null ? {} : { year: String(year) };
    let profile;
    try {
      profile = await getJSON(`api/districts/${encodeURIComponent(collectionId)}/${encodeURIComponent(id)}`, { params });
    } catch {
      return;
    }
    // another district's panel opened, or the slider moved on, meanwhile
    if (!holder.isConnected || holder.dataset.year !== String(year ?? '')) return;
    const label = (key) => labelled(profile.labels?.[key], key);
    const rows = [];
    const notes = [];
    const add = (key, value, digits = 0) => {
      if (typeof value === 'number') rows.push([label(key), formatNumber(value, digits)]);
    };
    const ofYear = (key, value, digits) => {
      if (typeof value === 'number') rows.push([year === null ? label(key) : `${label(key)} (${year})`, formatNumber(value, digits)]);
    };
    const figures = profile.figures || {};
    add('floor_area_m2', figures.buildings?.floor_area_m2);
    add('trees', figures.trees?.count);
    ofYear('trees_per_inhabitant', figures.trees?.per_inhabitant, 3);
    add('charging', figures.charging?.count);
    ofYear('charging_per_1000', figures.charging?.per_1000_inhabitants, 2);
    add('wlan', figures.wlan?.count);
    add('stops', figures.stops?.count);
    add('departures_per_hour', figures.stops?.departures_per_hour, 1);
    for (const figure of Object.values(figures)) if (figure.note) notes.push(labelled(figure.note, ''));
    if (!rows.length) {
      holder.replaceChildren();
      return;
    }
    const section = html(`<section data-testid="district-figures">
        <h3 class="chart-title">${esc(t('districtFigures'))}</h3>
        <dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
        ${notes.map((n) => `<p class="muted small">${esc(n)}</p>`).join('')}
        ${asOfList(profile.as_of, year)}
      </section>`);
    holder.replaceChildren(section);
    this.addAccess(collectionId, id, section, year);
  }

  /** "Compare with": another district of the level, side by side (`api/districts/…/compare`). */
  async addComparison(collectionId, id, body) {
    const collection = this.collections.find((c) => c.id === collectionId);
    let rows;
    try {
      rows = await this.load(collectionId);
    } catch {
      return;
    }
    if (!body.isConnected || !collection) return;
    const name = (r) => r.properties?.[collection.nameProperty] || String(r.properties?.id ?? r.id);
    const others = rows
      .map((r) => ({ id: String(r.properties?.id ?? r.id), name: name(r) }))
      .filter((r) => r.id !== String(id))
      .sort((a, b) => a.name.localeCompare(b.name, language()));
    const section = html(`<section data-testid="district-compare">
        <label class="field"><span>${esc(t('compareWith'))}</span>
          <select id="district-compare"><option value="">–</option>${others.map((o) => `<option value="${esc(o.id)}">${esc(o.name)}</option>`).join('')}</select></label>
        <div class="compare-table"></div>
      </section>`);
    body.append(section);
    section.querySelector('select').addEventListener('change', async (e) => {
      const table = section.querySelector('.compare-table');
      if (!e.target.value) {
        table.innerHTML = '';
        return;
      }
      let answer;
      try {
        const year = this.shownYear();
        const params = { a: String(id), b: e.target.value, ...(year === null || year === undefined ? {} : { year: String(year) }) };
        answer = await getJSON(`api/districts/${encodeURIComponent(collectionId)}/compare`, { params });
      } catch (error) {
        table.innerHTML = `<p class="error small">${esc(t('loadFailed', { what: error.message }))}</p>`;
        return;
      }
      const label = (key) => labelled(answer.labels?.[key], key);
      const lines = [
        ['population', (d) => d.population?.value ?? d.population?.latest, 0],
        ['density', (d) => d.density_per_km2, 0],
        ['floor_area_m2', (d) => d.figures?.buildings?.floor_area_m2, 0],
        ['trees', (d) => d.figures?.trees?.count, 0],
        ['trees_per_inhabitant', (d) => d.figures?.trees?.per_inhabitant, 3],
        ['charging_per_1000', (d) => d.figures?.charging?.per_1000_inhabitants, 2],
        ['wlan', (d) => d.figures?.wlan?.count, 0],
        ['stops', (d) => d.figures?.stops?.count, 0],
      ].filter(([, get]) => typeof get(answer.a) === 'number' || typeof get(answer.b) === 'number');
      const cell = (v, digits) => (typeof v === 'number' ? formatNumber(v, digits) : '–');
      table.innerHTML = `<table class="compare" data-testid="district-compare-table">
        <thead><tr><th></th><th>${esc(answer.a.name)}</th><th>${esc(answer.b.name)}</th></tr></thead>
        <tbody>${lines.map(([key, get, digits]) => `<tr><th>${esc(label(key))}</th><td>${esc(cell(get(answer.a), digits))}</td><td>${esc(cell(get(answer.b), digits))}</td></tr>`).join('')}</tbody>
      </table>`;
    });
  }

  /** The district's residents within 300 and 500 m of any stop as of the year (`api/districts/…/access`,
   * asked once per collection and year: every district's shares come in one answer), with how they
   * were placed and which inputs have no history. */
  async addAccess(collectionId, id, section, year) {
    this.access ??= new Map();
    const key = `${collectionId}|${year}`;
    if (!this.access.has(key)) {
      const params = { min_departures: '0', ...(year === null ? {} : { year: String(year) }) };
      const asked = getJSON(`api/districts/${encodeURIComponent(collectionId)}/access`, { params });
      this.access.set(key, asked.catch(() => null));
    }
    const answer = await this.access.get(key);
    const row = answer?.districts?.find((d) => String(d.id) === String(id));
    if (!row || !section.isConnected || !row.within) return;
    const shares = [300, 500]
      .filter((radius) => typeof row.within[radius] === 'number')
      .map((radius) => [t('nearStop', { radius }), `${formatNumber(row.within[radius] * 100, 0)} %`]);
    if (!shares.length) return;
    section.append(
      html(`<div data-testid="district-access">
        <dl class="facts">${shares.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
        <p class="muted small">${esc(labelled(row.method_label, ''))}</p>
        ${asOfList(answer.as_of, year)}
      </div>`),
    );
  }

  /** The sensor mean of a district and its number of sensors, when a sensor statistic is shown. */
  sensorFacts(id) {
    const row = this.meanOf(id);
    if (!row) return [];
    const name = this.sensorProperties().find((p) => p.id === sensorProperty(this.stat))?.title || '';
    const unit = unitText(this.means.unitOfMeasurement);
    const mean = row.mean === null ? t('noData') : `${formatNumber(row.mean)} ${unit}`.trim();
    return [
      [t('sensorMean', { name }), mean],
      [t('sensorsHere'), formatNumber(row.sensors)],
    ];
  }

  select(collectionId, id) {
    if (this.selected) this.map.setFeatureState(this.selected, { selected: false });
    // Only a feature from a tile has the numeric id feature states need (a search result has its key).
    this.selected = collectionId && Number.isInteger(id) ? { source: `c:${collectionId}`, sourceLayer: collectionId, id } : null;
    if (this.selected) this.map.setFeatureState(this.selected, { selected: true });
  }
}

/** Which inputs of a figure are of the year and which have no history (the server's `as_of.labels`). */
function asOfList(asOf, year) {
  const labels = asOf?.labels || [];
  if (!labels.length) return '';
  return `<div class="as-of" data-testid="district-as-of"><p class="muted small">${esc(t('asOfInputs', { year }))}</p>
    <ul class="muted small">${labels.map((l) => `<li>${esc(labelled(l, ''))}</li>`).join('')}</ul></div>`;
}

/** The colour of a value in classes with the given breaks. */
function classColor(value, breaks, colors) {
  let i = 0;
  while (i < breaks.length && value >= breaks[i]) i++;
  return colors[i];
}

export function statLabel(stat, firstYear) {
  if (stat === 'population') return t('population');
  if (stat === 'density') return t('density');
  if (stat === 'change') return t('change', { year: firstYear });
  if (stat === 'trees_per_inhabitant') return t('statTreesPerResident');
  if (stat === 'charging_per_1000') return t('statChargingPer1000');
  if (stat === 'access300') return t('statAccess300');
  if (stat === 'gfz') return t('statGfz');
  return t('statNone');
}

/** A number rounded to two significant digits (class breaks people can read). */
function niceRound(v) {
  if (!v) return 0;
  const m = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 1);
  return Math.round(v / m) * m;
}

/** What a district collection is called in the current language: its label in the city's profile,
 * else its title, else "Districts". */
export function districtsLabel(collection) {
  return collection?.label?.[language()] || collection?.title || t('districts');
}
