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

import { apiUrl, getJSON } from './api.js';
import { timeChart } from './chart.js';
import { formatNumber, labelled, language, t, unitText } from './i18n.js';
import { buildingColor } from './layers.js';
import { esc, html, openPanel } from './ui.js';

const SEQUENTIAL = ['#f1eef6', '#bdc9e1', '#74a9cf', '#2b8cbe', '#045a8d'];
const DIVERGING = ['#ca0020', '#f4a582', '#f7f7f7', '#92c5de', '#0571b0'];
const NO_DATA = '#d9d9d9';
export const STATS = ['none', 'population', 'density', 'change'];
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
    const sensorStats = this.sensorProperties()
      .map((p) => `<option value="sensor:${p.id}" ${`sensor:${p.id}` === this.stat ? 'selected' : ''}>${esc(t('sensorMean', { name: p.title }))}</option>`)
      .join('');
    container.innerHTML = `
      <label class="field"><span>${esc(t('statistic'))}</span><select id="district-stat">${stats}${sensorStats ? `<optgroup label="${esc(t('sensors'))}">${sensorStats}</optgroup>` : ''}</select></label>
      <label class="field" ${this.collections.length > 1 ? '' : 'hidden'}><span>${esc(t('areaLevel'))}</span><select id="district-level">${levels}</select></label>`;
    container.querySelector('#district-stat').addEventListener('change', (e) => this.setStat(e.target.value));
    container.querySelector('#district-level').addEventListener('change', (e) => this.setLevel(e.target.value));
    this.renderLegend();
  }

  async setLevel(id) {
    this.level = id;
    this.onChange('level', id);
    await this.setStat(this.stat);
  }

  async setStat(stat) {
    const known = STATS.includes(stat) || (isSensorStat(stat) && this.sensorProperties().some((p) => p.id === sensorProperty(stat)));
    this.stat = known ? stat : 'none';
    const select = this.container?.querySelector('#district-stat');
    if (select && select.value !== this.stat) select.value = this.stat;
    if (isSensorStat(this.stat)) await this.loadMeans();
    else if (this.stat !== 'none') await this.load(this.level);
    this.paint();
    this.onChange('stat', this.stat);
  }

  setYear(year) {
    if (year === this.year) return;
    this.year = year;
    if (this.stat !== 'none' && !isSensorStat(this.stat)) this.paint();
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
    const unit = this.stat === 'change' ? ' %' : '';
    const labels = colors.map((_, i) =>
      i === 0 ? `< ${formatNumber(b[0])}${unit}` : i === colors.length - 1 ? `≥ ${formatNumber(b[i - 1])}${unit}` : `${formatNumber(b[i - 1])} – ${formatNumber(b[i])}${unit}`,
    );
    if (isSensorStat(this.stat)) {
      this.legend.innerHTML = this.sensorLegend(colors, labels);
      return;
    }
    const year = this.year ?? this.yearFor(null);
    this.legend.innerHTML = `
      <p class="legend-title">${esc(statLabel(this.stat, this.years()[0]))}, <strong data-testid="district-year">${year}</strong></p>
      <ul class="classes">${colors.map((c, i) => `<li><span class="swatch block" style="background:${c}"></span>${esc(labels[i])}</li>`).join('')}
        <li><span class="swatch block" style="background:${NO_DATA}"></span>${esc(t('noData'))}</li></ul>
      <p class="muted small">${esc(t('yearFollowsTime'))}</p>`;
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
    const pop = years.length ? population(year) : undefined;
    const base = years.length ? population(first) : undefined;
    const facts = [
      typeof pop === 'number' ? [t('population'), `${formatNumber(pop)} (${year})`] : null,
      props.area_km2 ? [t('area'), `${formatNumber(props.area_km2, 2)} km²`] : null,
      props.area_km2 && pop ? [t('density'), formatNumber(pop / props.area_km2, 0)] : null,
      base && pop ? [t('change', { year: first }), `${pop >= base ? '+' : ''}${formatNumber((pop / base - 1) * 100)} %`] : null,
      ...this.sensorFacts(props.id ?? feature.id),
    ].filter(Boolean);
    const points = years.map((y) => ({ x: Date.UTC(y, 6, 1), y: population(y), label: String(y) }));
    const id = props.id ?? feature.id;
    const chart = years.length
      ? `<h3 class="chart-title">${esc(t('populationOverTime', { from: first, to: years[years.length - 1] }))}</h3>
      <figure class="chart-box"></figure>`
      : '';
    const body = html(`<div class="district-panel">
      <dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
      ${chart}
      <p><a href="${esc(apiUrl(`ogcapi/collections/${encodeURIComponent(collectionId)}/items/${encodeURIComponent(id)}`))}" target="_blank" rel="noopener">${esc(t('featureLink'))}</a></p>
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
    openPanel({
      kind: `${t('districtProfile')} · ${collection.title}`,
      title: props[collection.nameProperty] || String(id),
      body,
      panel: 'district',
      closed: () => this.select(null),
    });
    this.addFigures(collectionId, id, body);
  }

  /** The platform's figures of the district (`api/districts/…`, docs/districts.md): buildings, trees,
   * charging points, WLAN sites, stops, each labelled by the server in both languages; nothing where
   * the districts module is not there or the collection is no district collection. */
  async addFigures(collectionId, id, body) {
    let profile;
    try {
      profile = await getJSON(`api/districts/${encodeURIComponent(collectionId)}/${encodeURIComponent(id)}`);
    } catch {
      return;
    }
    if (!body.isConnected) return; // another district's panel opened meanwhile
    const label = (key) => labelled(profile.labels?.[key], key);
    const rows = [];
    const notes = [];
    const add = (key, value, digits = 0) => {
      if (typeof value === 'number') rows.push([label(key), formatNumber(value, digits)]);
    };
    const figures = profile.figures || {};
    add('floor_area_m2', figures.buildings?.floor_area_m2);
    add('trees', figures.trees?.count);
    add('trees_per_inhabitant', figures.trees?.per_inhabitant, 3);
    add('charging_per_1000', figures.charging?.per_1000_inhabitants, 2);
    add('wlan', figures.wlan?.count);
    add('stops', figures.stops?.count);
    add('departures_per_hour', figures.stops?.departures_per_hour, 1);
    for (const figure of Object.values(figures)) if (figure.note) notes.push(labelled(figure.note, ''));
    if (!rows.length) return;
    const section = html(`<section data-testid="district-figures">
        <h3 class="chart-title">${esc(t('districtFigures'))}</h3>
        <dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
        ${notes.map((n) => `<p class="muted small">${esc(n)}</p>`).join('')}
      </section>`);
    body.append(section);
    this.addAccess(collectionId, id, section);
  }

  /** The district's residents within 300 and 500 m of any stop (`api/districts/…/access`, asked once
   * per collection: every district's shares come in one answer), with how they were placed. */
  async addAccess(collectionId, id, section) {
    this.access ??= new Map();
    if (!this.access.has(collectionId)) {
      const asked = getJSON(`api/districts/${encodeURIComponent(collectionId)}/access`, { params: { min_departures: '0' } });
      this.access.set(collectionId, asked.catch(() => null));
    }
    const answer = await this.access.get(collectionId);
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
