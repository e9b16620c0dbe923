// Live sensors: each Datastream with a located Thing is a point, coloured by its value. In live mode
// the value is the latest Observation, updated the moment a new one is stored (the platform's push
// stream of Observations; while a server has none, the latest values are polled). In time mode the
// value is the last Observation at or before the chosen time (within a hold period), so the map can
// replay history. A click opens the sensor's chart from the server-side aggregates.

import { apiUrl, getAllSta, getJSON } from './api.js';
import { niceTicks, timeChart } from './chart.js';
import { formatNumber, formatTime, labelled, t, timeZone, unitText } from './i18n.js';
import { NO_VALUE, VALUE_RAMP } from './layers.js';
import { esc, html, openPanel, panelShown } from './ui.js';

export const SOURCE = 'sensors';
export const POLL_MS = 1000;
const HOUR = 3600e3;
const DAY = 24 * HOUR;
const WINDOWS = {
  day: { span: DAY, interval: 'hour', label: 'lastDay' },
  week: { span: 7 * DAY, interval: 'hour', label: 'lastWeek' },
  year: { span: 365 * DAY, interval: 'day', label: 'lastYear' },
};

/** The start of a SensorThings time (an instant or an `a/b` interval), in ms. */
export function timeStart(value) {
  if (!value) return NaN;
  return Date.parse(String(value).split('/')[0]);
}
function timeEnd(value) {
  if (!value) return NaN;
  const parts = String(value).split('/');
  return Date.parse(parts[parts.length - 1]);
}
const numeric = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'boolean' ? Number(value) : null);

export class Sensors {
  constructor(map, { onChange } = {}) {
    this.map = map;
    this.onChange = onChange || (() => {});
    /** ObservedProperty id → tree entry. */
    this.entries = new Map();
    /** Datastream id → GeoJSON feature drawn on the map. */
    this.features = new Map();
    /** Datastreams not on the map whose latest value is being fetched, and those that cannot be
     * drawn (no location): a burst of pushed values (a meter replaying a week) asks once, not per value. */
    this.fetching = new Set();
    this.unplaced = new Set();
    this.mode = 'live';
    this.time = null;
    this.hold = DAY;
    this.transport = null; // 'push' | 'poll'
    this.pending = 0;
    this.lastUpdate = null;
    this.selected = null;
  }

  /** The ObservedProperties with their Datastreams (ids, units, time extents): one request. */
  async loadProperties() {
    const properties = await getAllSta('v1.1/ObservedProperties', {
      $select: '@iot.id,name,description,definition,properties',
      $expand: 'Datastreams($select=@iot.id,name,phenomenonTime,unitOfMeasurement;$top=10000)',
      $top: 1000,
    });
    for (const op of properties) {
      const streams = op.Datastreams || [];
      const starts = streams.map((d) => timeStart(d.phenomenonTime)).filter(Number.isFinite);
      const ends = streams.map((d) => timeEnd(d.phenomenonTime)).filter(Number.isFinite);
      this.entries.set(op['@iot.id'], {
        key: `op:${op['@iot.id']}`,
        kind: 'sensor',
        id: op['@iot.id'],
        name: op.name,
        labels: op.properties?.labels ?? null,
        /** The name in the viewer's language, where the ObservedProperty carries labels per language. */
        get title() {
          return labelled(this.labels, this.name);
        },
        description: op.description || op.definition || '',
        unit: streams[0]?.unitOfMeasurement || null,
        streams: new Map(streams.map((d) => [d['@iot.id'], { name: d.name, phenomenonTime: d.phenomenonTime }])),
        extent: starts.length ? [Math.min(...starts), Math.max(...ends)] : null,
        domain: null,
        located: 0,
        visible: false,
      });
    }
  }

  /** The latest value of every Datastream (GeoJSON from the time-series extension, all pages). */
  async loadLatest(params = {}) {
    let offset = 0;
    const out = [];
    for (;;) {
      const page = await getJSON('api/timeseries/latest', { params: { ...params, offset: offset || undefined } });
      out.push(...page.features);
      if (page.nextOffset === undefined || page.nextOffset === null) return out;
      offset = page.nextOffset;
    }
  }

  /** Load everything the layer needs; the default entries shown are those with the most sensors. */
  async load() {
    const [, latest] = await Promise.all([this.loadProperties(), this.loadLatest()]);
    for (const feature of latest) this.addFeature(feature);
    for (const entry of this.entries.values()) entry.countText = t('sensorsCount', { n: entry.located });
    const ranked = [...this.entries.values()].filter((e) => e.located).sort((a, b) => b.located - a.located);
    ranked.slice(0, 2).forEach((e) => (e.visible = true));
    await this.loadDomains();
  }

  addFeature(feature) {
    if (!feature.geometry) return null;
    const p = feature.properties;
    const entry = this.entries.get(p.observedPropertyId);
    const drawn = {
      type: 'Feature',
      id: p.datastreamId,
      geometry: feature.geometry,
      properties: {
        datastreamId: p.datastreamId,
        op: p.observedPropertyId,
        name: p.datastreamName,
        thing: p.thingName,
        thingId: p.thingId,
        unit: unitText(p.unitOfMeasurement),
        result: p.result,
        time: p.phenomenonTime,
        v: this.mode === 'live' ? numeric(p.result) : null,
      },
    };
    if (!this.features.has(p.datastreamId) && entry) entry.located += 1;
    this.features.set(p.datastreamId, drawn);
    return drawn;
  }

  /**
   * The colour scale of each property: from 0 to a round number above the largest value ever
   * observed (one ordered query each), so colours mean the same at every time of the replay.
   */
  async loadDomains() {
    await Promise.all(
      [...this.entries.values()].filter((e) => e.located).map(async (entry) => {
        let top = null;
        try {
          const [max] = (
            await getJSON('v1.1/Observations', {
              params: {
                $filter: `Datastream/ObservedProperty/@iot.id eq ${entry.id}`,
                $orderby: 'result desc',
                $top: 1,
                $select: 'result',
              },
            })
          ).value;
          top = numeric(max?.result);
        } catch {
          /* the fallback below: the largest latest value */
        }
        if (top === null) {
          const values = [...this.features.values()].filter((f) => f.properties.op === entry.id).map((f) => numeric(f.properties.result));
          top = Math.max(0, ...values.filter((v) => v !== null));
        }
        const ticks = niceTicks(0, top > 0 ? top : 1, 4);
        entry.domain = [0, ticks[ticks.length - 1]];
      }),
    );
  }

  colorExpression(entry) {
    const [lo, hi] = entry.domain || [0, 1];
    const stops = VALUE_RAMP.flatMap((color, i) => [lo + ((hi - lo) * i) / (VALUE_RAMP.length - 1), color]);
    return ['case', ['==', ['typeof', ['get', 'v']], 'number'], ['interpolate', ['linear'], ['get', 'v'], ...stops], NO_VALUE];
  }

  /** The GeoJSON source and one circle layer per ObservedProperty (plus the pulse of new values). */
  addLayers(beforeId) {
    this.map.addSource(SOURCE, { type: 'geojson', data: this.collection(), promoteId: 'datastreamId' });
    for (const entry of this.entries.values()) {
      if (!entry.located) continue;
      this.map.addLayer(
        {
          id: `sensors::${entry.id}`,
          type: 'circle',
          source: SOURCE,
          filter: ['==', ['get', 'op'], entry.id],
          metadata: { entry: entry.key },
          layout: { visibility: entry.visible ? 'visible' : 'none' },
          paint: {
            'circle-color': this.colorExpression(entry),
            'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 5, 16, 10],
            'circle-stroke-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#1a202c', '#ffffff'],
            'circle-stroke-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 1.6],
          },
        },
        beforeId,
      );
    }
    this.map.addLayer(
      {
        id: 'sensors::pulse',
        type: 'circle',
        source: SOURCE,
        paint: {
          'circle-color': 'rgba(0,0,0,0)',
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 11, 16, 18],
          'circle-stroke-color': '#dd6b20',
          'circle-stroke-width': 3,
          'circle-stroke-opacity': ['case', ['boolean', ['feature-state', 'pulse'], false], 0.9, 0],
        },
      },
      beforeId,
    );
  }

  refreshColors(entry) {
    const id = `sensors::${entry.id}`;
    if (this.map.getLayer(id)) this.map.setPaintProperty(id, 'circle-color', this.colorExpression(entry));
  }

  collection() {
    return { type: 'FeatureCollection', features: [...this.features.values()] };
  }

  /** Redraw on the next frame (many updates in one frame are drawn once). */
  redraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.map.getSource(SOURCE)?.setData(this.collection());
    });
  }

  // --- live ------------------------------------------------------------------------------------

  /** Follow new Observations: by push where the server has the stream, else by polling. */
  startLive(liveUrl) {
    if (liveUrl && typeof EventSource !== 'undefined') this.subscribe(liveUrl);
    else this.startPolling();
  }

  subscribe(liveUrl) {
    const source = new EventSource(apiUrl(liveUrl));
    this.events = source;
    const receive = (event) => {
      try {
        this.receive(JSON.parse(event.data));
      } catch (error) {
        console.warn('live: an event that is not an Observation', error);
      }
    };
    source.addEventListener('message', receive);
    source.addEventListener('observation', receive);
    source.addEventListener('open', () => {
      this.stopPolling();
      this.transport = 'push';
      this.onChange('transport');
    });
    source.addEventListener('error', () => {
      // Closed for good (the stream is not there, or refused): poll. Reconnecting: poll meanwhile.
      if (source.readyState === EventSource.CLOSED) this.events = null;
      this.startPolling();
    });
  }

  startPolling() {
    if (this.pollTimer) return;
    this.transport = 'poll';
    this.onChange('transport');
    const tick = async () => {
      this.pollTimer = setTimeout(tick, POLL_MS);
      if (this.mode !== 'live' || document.visibilityState === 'hidden' || this.polling) return;
      if (![...this.entries.values()].some((e) => e.visible)) return;
      this.polling = true;
      try {
        const b = this.map.getBounds();
        const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(',');
        for (const feature of await this.loadLatest({ bbox })) {
          const p = feature.properties;
          this.apply(p.datastreamId, p.result, p.phenomenonTime, feature);
        }
      } catch (error) {
        console.warn('live: polling the latest values failed', error);
      } finally {
        this.polling = false;
      }
    };
    this.pollTimer = setTimeout(tick, POLL_MS);
  }

  stopPolling() {
    clearTimeout(this.pollTimer);
    this.pollTimer = 0;
  }

  /** One pushed Observation: `{@iot.id, result, phenomenonTime, Datastream: {@iot.id}}` or `datastream_id`. */
  receive(observation) {
    const id = observation?.Datastream?.['@iot.id'] ?? observation?.datastream_id ?? observation?.datastreamId;
    if (id === undefined || id === null) return;
    this.apply(Number(id), observation.result, observation.phenomenonTime);
  }

  /** Take a newer value of a Datastream; a Datastream not yet on the map is fetched. */
  apply(id, result, phenomenonTime, feature) {
    let drawn = this.features.get(id);
    if (!drawn) {
      if (feature) drawn = this.addFeature(feature);
      else {
        if (this.fetching.has(id) || this.unplaced.has(id)) return;
        this.fetching.add(id);
        this.loadLatest({ datastreams: id })
          .then((found) => {
            const added = found.map((f) => this.addFeature(f)).filter(Boolean);
            if (!added.length) this.unplaced.add(id);
            this.redraw();
          }, () => {})
          .finally(() => this.fetching.delete(id));
        return;
      }
      if (!drawn) return;
    }
    const p = drawn.properties;
    const changed = p.result !== result || p.time !== phenomenonTime;
    if (!changed) return;
    if (timeStart(phenomenonTime) < timeStart(p.time)) return; // an older value arrived late
    p.result = result;
    p.time = phenomenonTime;
    if (this.mode === 'live') p.v = numeric(result);
    this.lastUpdate = { id, result, at: Date.now() };
    this.redraw();
    this.pulse(id);
    if (this.mode === 'live' && this.selected === id && panelShown('sensor')) this.refreshPanel();
  }

  pulse(id) {
    this.map.setFeatureState({ source: SOURCE, id }, { pulse: true });
    setTimeout(() => this.map.getSource(SOURCE) && this.map.setFeatureState({ source: SOURCE, id }, { pulse: false }), 1500);
  }

  // --- time ------------------------------------------------------------------------------------

  /** Back to the latest values. */
  setLive() {
    this.mode = 'live';
    this.time = null;
    this.abort?.abort();
    for (const f of this.features.values()) f.properties.v = numeric(f.properties.result);
    this.redraw();
  }

  /** Show the values as of `time` (ms): the last Observation in [time − hold, time]. */
  async setTime(time, hold) {
    this.mode = 'time';
    this.time = time;
    this.hold = Math.max(hold || DAY, HOUR);
    this.abort?.abort();
    this.abort = new AbortController();
    const signal = this.abort.signal;
    const entries = [...this.entries.values()].filter((e) => e.visible && e.located);
    this.pending += 1;
    this.onChange('time-loading');
    try {
      await Promise.all(entries.map((e) => this.loadAsOf(e, time, signal)));
      if (!signal.aborted) this.redraw();
    } catch (error) {
      if (error.name !== 'AbortError') throw error;
    } finally {
      this.pending -= 1;
      this.onChange('time-loaded');
    }
  }

  async loadAsOf(entry, time, signal) {
    const from = new Date(time - this.hold).toISOString();
    const to = new Date(time).toISOString();
    const streams = await getAllSta(
      'v1.1/Datastreams',
      {
        $filter: `ObservedProperty/@iot.id eq ${entry.id}`,
        $select: '@iot.id',
        $expand: `Observations($filter=phenomenonTime ge ${from} and phenomenonTime le ${to};$orderby=phenomenonTime desc;$top=1;$select=result,phenomenonTime)`,
        $top: 10000,
      },
      { signal },
    );
    if (signal.aborted) return;
    for (const ds of streams) {
      const drawn = this.features.get(ds['@iot.id']);
      if (!drawn) continue;
      const [observation] = ds.Observations || [];
      drawn.properties.v = observation ? numeric(observation.result) : null;
      drawn.properties.asOf = observation ? observation.phenomenonTime : null;
    }
    entry.loadedAt = time;
  }

  /** An entry was switched on: in time mode its values are fetched for the time shown. */
  async entryShown(entry) {
    if (this.mode === 'time' && entry.loadedAt !== this.time) {
      await this.loadAsOf(entry, this.time, new AbortController().signal);
      this.redraw();
    }
  }

  /** The time extent of the shown entries (for the time slider). */
  extent() {
    const shown = [...this.entries.values()].filter((e) => e.visible && e.extent);
    if (!shown.length) return null;
    return [Math.min(...shown.map((e) => e.extent[0])), Math.max(...shown.map((e) => e.extent[1]))];
  }

  value(id) {
    return this.features.get(id)?.properties.v ?? null;
  }

  // --- the sensor panel ------------------------------------------------------------------------

  select(id) {
    if (this.selected !== null) this.map.setFeatureState({ source: SOURCE, id: this.selected }, { selected: false });
    this.selected = id;
    if (id !== null) this.map.setFeatureState({ source: SOURCE, id }, { selected: true });
  }

  /** Open the panel of a Datastream: its value, its chart over the chosen window, a link to its data. */
  open(id, window = this.window || 'day') {
    const drawn = this.features.get(id);
    if (!drawn) return;
    this.select(id);
    this.window = window;
    const p = drawn.properties;
    const entry = this.entries.get(p.op);
    const body = html('<div class="sensor-panel"></div>');
    openPanel({
      kind: `${t('sensor')} · ${entry?.title || ''}`,
      title: p.name,
      body,
      panel: 'sensor',
      closed: () => {
        this.select(null);
        this.panelBody = null;
      },
    });
    this.panelBody = body;
    this.refreshPanel();
  }

  refreshPanel() {
    const body = this.panelBody;
    const id = this.selected;
    const drawn = this.features.get(id);
    if (!body || !drawn) return;
    const p = drawn.properties;
    const entry = this.entries.get(p.op);
    const shownTime = this.mode === 'time' ? p.asOf : p.time;
    const value = this.mode === 'time' ? p.v : p.result;
    const valueText = value === null || value === undefined ? t('noValue') : `${formatNumber(numeric(value) ?? value)} ${p.unit}`;
    const windows = Object.entries(WINDOWS)
      .map(([key, w]) => `<button type="button" class="segment" data-window="${key}" aria-pressed="${key === this.window}">${esc(t(w.label))}</button>`)
      .join('');
    body.innerHTML = `
      <p class="big-value"><span class="value-dot" style="background:${value === null || value === undefined ? NO_VALUE : 'currentColor'}"></span>
        <strong data-testid="sensor-value">${esc(valueText)}</strong>
        ${shownTime ? `<span class="muted"> ${esc(t('at'))} ${esc(formatTime(timeStart(shownTime)))}</span>` : ''}</p>
      <dl class="facts"><dt>${esc(t('thing'))}</dt><dd>${esc(p.thing)}</dd>
        <dt>${esc(t('observedProperty'))}</dt><dd>${esc(entry?.title || '')}</dd></dl>
      <div class="segments" role="group" aria-label="${esc(t('chartWindow'))}">${windows}</div>
      <figure class="chart-box" aria-busy="true"><p class="muted loading-line">${esc(t('loading'))}</p></figure>
      <p class="chart-key"><span class="key-line"></span>${esc(t('mean'))} <span class="key-band"></span>${esc(t('minMax'))}</p>
      <p><a href="${esc(apiUrl(`v1.1/Datastreams(${id})/Observations`))}" target="_blank" rel="noopener">${esc(t('dataLink'))}</a></p>`;
    for (const button of body.querySelectorAll('[data-window]')) {
      button.addEventListener('click', () => {
        this.window = button.dataset.window;
        this.refreshPanel();
        body.querySelector(`[data-window="${this.window}"]`)?.focus();
      });
    }
    this.loadChart(id, entry, body.querySelector('.chart-box'));
  }

  async loadChart(id, entry, box) {
    const w = WINDOWS[this.window];
    const stream = entry?.streams.get(id);
    const drawn = this.features.get(id);
    // The window ends at the time shown (replay) or at the Datastream's last Observation (live).
    const lastKnown = Math.max(timeEnd(stream?.phenomenonTime) || 0, timeEnd(drawn?.properties.time) || 0);
    const end = this.mode === 'time' ? this.time : lastKnown || Date.now();
    const start = end - w.span;
    this.chartRequest?.abort();
    const request = (this.chartRequest = new AbortController());
    try {
      const answer = await getJSON(`api/timeseries/datastreams/${id}/aggregate`, {
        signal: request.signal,
        params: {
          interval: w.interval,
          stats: 'mean,min,max,count',
          start: new Date(start).toISOString(),
          end: new Date(end + 1).toISOString(),
          tz: timeZone(),
        },
      });
      const points = answer.buckets.map((b) => ({ x: Date.parse(b.start), y: b.mean, lo: b.min, hi: b.max }));
      const unit = unitText(answer.unitOfMeasurement) || drawn?.properties.unit || '';
      const filled = points.filter((p) => Number.isFinite(p.y)).length;
      box.removeAttribute('aria-busy');
      if (!filled) {
        box.replaceChildren(html(`<p class="muted empty">${esc(t('chartEmpty'))}</p>`));
        return;
      }
      const summary = `${drawn?.properties.name}: ${t(w.label)}, ${filled} × ${t('mean')} (${unit})`;
      box.replaceChildren(timeChart(points, { unit, xDomain: [start, end], summary, highlightX: this.mode === 'time' ? this.time : undefined }));
      box.dataset.points = String(filled);
    } catch (error) {
      if (error.name === 'AbortError') return;
      box.removeAttribute('aria-busy');
      box.replaceChildren(html(`<p class="error">${esc(t('loadFailed', { what: error.message }))}</p>`));
    }
  }
}
