// The virtual energy quarter (the city's energy-quarter scenarios) in the viewer: the buildings coloured by a
// simulated result (self-sufficiency or CO2), a KPI panel per scenario against the SPARCS targets
// (CO2 −64 %, renewables +65 %, energy −53 %), daily profiles per season and the monthly course,
// two scenarios side by side, and the monitoring of plan against (simulated) meters. Everything here
// is simulated and says so. The data come from the energy API (/api/energy/…, see
// docs/viewer.md) and the per-building results from their OGC API collection `energy-<scenario>`,
// drawn from its vector tiles like the city's buildings. Runs still queued or running when the view
// opens are shown with their progress and polled until they are done. "What it takes" (energy-plan.js)
// asks the target-seeking planner and draws its portfolio, the buildings coloured by their measure.
// Loaded only when the view is first opened (main.js), so the first render does not wait for it.

import { apiUrl, getJSON } from './api.js';
import { lineChart } from './chart.js';
import { MEASURES, PlanState, measureFacts, measureLegend, planForm, planResult } from './energy-plan.js';
import './energy-strings.js';
import { formatNumber, t, timeZone } from './i18n.js';
import { rampLegend, sourceFor } from './layers.js';
import { SideView } from './sideview.js';
import { attributeTable, esc, html, openPanel } from './ui.js';

export const SOURCE_PREFIX = 'energy:';
const LAYER = 'energy::extrusion';
const POLL_MS = 2000;
const SEASONS = ['winter', 'spring', 'summer', 'autumn'];
const MONITOR_DAYS = 7;
const NO_VALUE = '#c9c4ba';
/** Self-sufficiency 0 → 1: red → green. */
const SHARE_RAMP = ['#d7191c', '#fdae61', '#ffffbf', '#a6d96a', '#1a9641'];
/** CO2 per building, low → high: green → purple. */
const CO2_RAMP = ['#1a9850', '#a6d96a', '#fee08b', '#f46d43', '#7b3294'];
const FLOW_COLORS = { pv: '#e0a800', consumption: '#2b6cb0', grid_import: '#c53030', grid_export: '#2f855a' };
const COLOUR_BY = { self_sufficiency: 'selfSufficiency', co2_kg: 'co2' };

const percent = (fraction, signed = false) =>
  fraction === null || fraction === undefined || !Number.isFinite(fraction)
    ? '–'
    : `${signed && fraction > 0 ? '+' : ''}${formatNumber(fraction * 100, 0)} %`.replace('-', '−');
const megawattHours = (kwh) => (Number.isFinite(kwh) ? `${formatNumber(kwh / 1000, 0)} MWh` : '–');
const tonnes = (kg) => (Number.isFinite(kg) ? `${formatNumber(kg / 1000, 0)} t` : '–');
// A block's or building's week is kWh and kg, the quarter's MWh and t.
const energyAmount = (kwh) => (Number.isFinite(kwh) && Math.abs(kwh) < 10000 ? `${formatNumber(kwh, 0)} kWh` : megawattHours(kwh));
const mass = (kg) => (Number.isFinite(kg) && Math.abs(kg) < 10000 ? `${formatNumber(kg, 0)} kg` : tonnes(kg));

export class EnergyView extends SideView {
  constructor(map, { collections, buildingEntries, ...options } = {}) {
    super(map, 'energy', { ...options, badge: 'energy-simulated' });
    this.collections = collections?.collections || [];
    this.buildingEntries = buildingEntries || (() => []);
    this.runs = [];
    this.targets = null;
    this.runId = null;
    this.compareId = '';
    this.colourBy = 'self_sufficiency';
    this.season = 'summer';
    this.profiles = new Map(); // run id → profiles document (or a pending promise)
    this.monitoring = new Map(); // run id → monitoring document, or an error text
    this.hidden = []; // building layers hidden while the view is open
    this.shownCollection = null;
    this.plan = new PlanState();
    this.mapPlan = false; // the chosen plan's measures on the map instead of the scenario's results
    this.planFormEl = null;
  }

  // --- opening, closing, polling ----------------------------------------------------------------

  async opened() {
    await this.refresh();
  }

  close() {
    clearTimeout(this.timer); // no more polling while closed
    super.close();
  }

  restoreMap() {
    this.removeLayer();
  }

  /** Read the runs; while some are queued or running, read them again in a moment. */
  async refresh() {
    clearTimeout(this.timer);
    if (!this.isOpen) return;
    // The plans are read beside the runs; either failing leaves the other shown.
    const [runs, plans] = await Promise.allSettled([getJSON('api/energy/runs'), getJSON('api/energy/plans')]);
    if (runs.status === 'fulfilled') {
      this.runs = runs.value.runs || [];
      this.targets = runs.value.targets || null;
      this.error = null;
    } else this.error = runs.reason.message;
    if (plans.status === 'fulfilled') {
      this.plan.take(plans.value);
      this.plan.loadError = null;
    } else this.plan.loadError = plans.reason.message;
    const wanted = this.runs.find((r) => r.id === this.runId);
    if (!wanted) this.runId = (this.runs.find((r) => r.status === 'done' && !this.isBaseline(r)) || this.runs.find((r) => r.status === 'done') || this.runs[0])?.id ?? null;
    if (this.compareId && !this.runs.some((r) => r.id === this.compareId)) this.compareId = '';
    this.render();
    await this.showOnMap();
    if (this.runs.some((r) => r.status === 'queued' || r.status === 'running') || this.plan.pending() || this.error || this.plan.loadError) {
      this.timer = setTimeout(() => this.refresh(), POLL_MS);
    }
  }

  isBaseline(run) {
    return run?.targets?.baseline === run?.id || /baseline/i.test(run?.strategy || '');
  }

  run(id = this.runId) {
    return this.runs.find((r) => r.id === id) || null;
  }

  // --- the map ----------------------------------------------------------------------------------

  owns(hit) {
    return String(hit.source || '').startsWith(SOURCE_PREFIX);
  }

  /** The chosen plan when its measures are to be drawn (it is done and the map is asked for it). */
  shownPlan() {
    const plan = this.plan.plan();
    return this.mapPlan && plan?.status === 'done' ? plan : null;
  }

  /** Draw the chosen run's buildings, or the chosen plan's (once done and its collection exists). */
  async showOnMap() {
    const run = this.run();
    const collection = this.shownPlan()?.collection || (run?.status === 'done' ? run.collection : null);
    if (collection !== this.shownCollection) {
      this.removeLayer();
      if (collection) await this.addLayer(collection);
    }
    this.paint();
  }

  async addLayer(collection) {
    let described = this.collections.find((c) => c.id === collection);
    if (!described) {
      try {
        described = await getJSON(`ogcapi/collections/${encodeURIComponent(collection)}`);
      } catch {
        return; // not published yet: the next refresh tries again
      }
    }
    const source = `${SOURCE_PREFIX}${collection}`;
    this.map.addSource(source, sourceFor({ id: collection, geom: 'polygon', bbox: described.extent?.spatial?.bbox?.[0], attribution: described.attribution }));
    const height = ['to-number', ['coalesce', ['get', 'height'], ['get', 'height_m']], 0];
    this.map.addLayer(
      {
        id: LAYER,
        type: 'fill-extrusion',
        source,
        'source-layer': collection,
        minzoom: 12,
        metadata: { entry: 'energy' },
        paint: {
          'fill-extrusion-color': NO_VALUE,
          'fill-extrusion-height': ['case', ['>', height, 0], height, 6],
          'fill-extrusion-base': ['to-number', ['coalesce', ['get', 'min_height'], 0], 0],
          'fill-extrusion-opacity': 1,
        },
      },
      this.beforeId,
    );
    this.shownCollection = collection;
    // The city's own buildings step aside while the simulated ones are drawn in their place.
    this.hidden = [];
    for (const entry of this.buildingEntries()) {
      for (const layer of this.map.getStyle().layers) {
        if (layer.metadata?.entry === entry.key && layer.layout?.visibility !== 'none') {
          this.map.setLayoutProperty(layer.id, 'visibility', 'none');
          this.hidden.push(layer.id);
        }
      }
    }
    // CO2 classes follow the buildings' own values once their tiles are in.
    this.onData = (event) => {
      if (event.sourceId === source && event.isSourceLoaded && this.colourBy === 'co2_kg') this.paint();
    };
    this.map.on('sourcedata', this.onData);
  }

  removeLayer() {
    if (!this.shownCollection) return;
    if (this.map.getLayer(LAYER)) this.map.removeLayer(LAYER);
    const source = `${SOURCE_PREFIX}${this.shownCollection}`;
    if (this.map.getSource(source)) this.map.removeSource(source);
    this.map.off('sourcedata', this.onData);
    for (const id of this.hidden) if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', 'visible');
    this.hidden = [];
    this.shownCollection = null;
  }

  /** Class breaks of CO2 per building: quantiles of the values in the loaded tiles. */
  co2Breaks() {
    const source = `${SOURCE_PREFIX}${this.shownCollection}`;
    const values = this.map
      .querySourceFeatures(source, { sourceLayer: this.shownCollection })
      .map((f) => Number(f.properties.co2_kg))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    if (values.length < 5) return [5000, 10000, 20000, 40000];
    const q = (p) => values[Math.min(values.length - 1, Math.floor(p * values.length))];
    const breaks = [0.2, 0.4, 0.6, 0.8].map((p) => Math.max(1, Math.round(q(p) / 100) * 100));
    return breaks.map((b, i) => (i && b <= breaks[i - 1] ? breaks[i - 1] + 1 : b));
  }

  paint() {
    if (!this.shownCollection || !this.map.getLayer(LAYER)) return this.renderLegend();
    if (this.shownPlan()) {
      this.map.setPaintProperty(LAYER, 'fill-extrusion-color', MEASURES[this.plan.measure].color);
      return this.renderLegend();
    }
    const value = ['get', this.colourBy];
    let color;
    if (this.colourBy === 'co2_kg') {
      this.breaks = this.co2Breaks();
      color = ['step', ['to-number', value], CO2_RAMP[0], ...this.breaks.flatMap((b, i) => [b, CO2_RAMP[i + 1]])];
    } else {
      color = ['interpolate', ['linear'], ['to-number', value], ...SHARE_RAMP.flatMap((c, i) => [i / (SHARE_RAMP.length - 1), c])];
    }
    this.map.setPaintProperty(LAYER, 'fill-extrusion-color', ['case', ['==', ['typeof', value], 'number'], color, NO_VALUE]);
    this.renderLegend();
  }

  renderLegend() {
    const legend = this.panel?.querySelector('.energy-legend');
    if (!legend) return;
    if (!this.shownCollection) {
      legend.innerHTML = '';
      return;
    }
    if (this.shownPlan()) {
      legend.innerHTML = measureLegend(this.plan.measure);
      return;
    }
    const title = `<p class="legend-title">${esc(t(COLOUR_BY[this.colourBy]))} <span class="badge simulated">${esc(t('simulated'))}</span></p>`;
    const extra = { color: NO_VALUE, label: t('legendNoValue') };
    if (this.colourBy === 'co2_kg') {
      const b = this.breaks || [];
      legend.innerHTML = title + rampLegend(CO2_RAMP, [`< ${tonnes(b[0])}`, tonnes(b[2]), `≥ ${tonnes(b[3])}`], extra);
    } else legend.innerHTML = title + rampLegend(SHARE_RAMP, ['0 %', '50 %', '100 %'], extra);
  }

  /** The attributes of a clicked building of the quarter, marked as simulated. */
  inspect(hit) {
    const p = hit.properties || {};
    const facts = html(`<div class="energy-facts">
      <p class="simulated-line"><span class="badge simulated">${esc(t('simulated'))}</span> ${esc(t('simulatedNote'))}</p>
      <dl class="facts">
        <dt>${esc(t('selfSufficiency'))}</dt><dd>${esc(percent(Number(p.self_sufficiency)))}</dd>
        <dt>${esc(t('selfConsumption'))}</dt><dd>${esc(percent(Number(p.self_consumption)))}</dd>
        <dt>${esc(t('co2'))}</dt><dd>${esc(tonnes(Number(p.co2_kg)))}</dd>
        <dt>${esc(t('energyBalance'))}</dt><dd>${esc(megawattHours(Number(p.energy_balance_kwh)))}</dd>
      </dl></div>`);
    const id = p.id ?? hit.id;
    const measures = p.plan_heating !== undefined ? [html(`<div class="energy-facts">${measureFacts(p)}</div>`)] : [];
    const link = html(
      `<p><a href="${esc(apiUrl(`ogcapi/collections/${encodeURIComponent(this.shownCollection)}/items/${encodeURIComponent(id)}`))}" target="_blank" rel="noopener">${esc(t('energyData'))}</a></p>`,
    );
    openPanel({
      kind: `${t('energyBuilding')} · ${this.run()?.title || ''} · ${t('simulated')}`,
      title: p.name || p.address || String(id),
      body: [...measures, facts, this.meterMonitoring(p), attributeTable(p), link],
      panel: 'energy-building',
    });
  }

  // --- the panel --------------------------------------------------------------------------------

  /** Draw the panel from the state (runs, choices, loaded profiles and monitoring). */
  render() {
    if (!this.panel) return;
    this.panel.querySelector('[data-testid="energy-simulated"]').textContent = t('simulated');
    this.panel.querySelector('#energy-title').textContent = t('energyTitle');
    const close = this.panel.querySelector('.energy-close');
    close.setAttribute('aria-label', t('close'));
    close.title = t('close');
    // Two scenarios side by side need two columns' room (on a narrow screen the panel is a bottom sheet).
    this.panel.classList.toggle('comparing', Boolean(this.compareId));
    const body = this.panel.querySelector('.energy-body');
    const focused = document.activeElement?.id;
    const runOptions = (selected, none) =>
      (none ? `<option value="">${esc(t('compareNone'))}</option>` : '') +
      this.runs.map((r) => `<option value="${esc(r.id)}" ${r.id === selected ? 'selected' : ''}>${esc(r.title || r.scenario)}${r.status === 'done' ? '' : ` (${esc(t(r.status))})`}</option>`).join('');
    body.innerHTML = `
      <p class="simulated-line muted small">${esc(t('simulatedNote'))}</p>
      ${this.error ? `<p class="error">${esc(t('loadFailed', { what: this.error }))}</p>` : ''}
      ${this.runs.length ? '' : `<p class="muted">${esc(t('noRuns'))}</p>`}
      <div class="energy-controls">
        <label class="field"><span>${esc(t('scenario'))}</span><select id="energy-run">${runOptions(this.runId, false)}</select></label>
        <label class="field"><span>${esc(t('compareWith'))}</span><select id="energy-compare">${runOptions(this.compareId, true)}</select></label>
        <label class="field"><span>${esc(t('colourBy'))}</span><select id="energy-colour">${Object.entries(COLOUR_BY)
          .map(([key, label]) => `<option value="${key}" ${key === this.colourBy ? 'selected' : ''}>${esc(t(label))}</option>`)
          .join('')}</select></label>
      </div>
      <div class="energy-legend legend"></div>
      ${this.runsStatus()}
      <h3>${esc(t('kpiTitle'))} <span class="badge simulated">${esc(t('simulated'))}</span></h3>
      ${this.kpiTable()}
      <div class="segments" role="group" aria-label="${esc(t('season'))}">${SEASONS.map((s) => `<button type="button" class="segment" data-season="${s}" aria-pressed="${s === this.season}">${esc(t(s))}</button>`).join('')}</div>
      <div class="energy-compare ${this.compareId ? 'two' : ''}">${this.shownRuns()
        .map((r) => `<div class="energy-column" data-run="${esc(r.id)}"><h4>${esc(r.title || r.scenario)}</h4><div class="energy-profiles"></div></div>`)
        .join('')}</div>
      <section class="energy-monitoring"></section>
      <section class="energy-plan" aria-labelledby="energy-plan-title">
        <h3 id="energy-plan-title">${esc(t('planTitle'))} <span class="badge simulated">${esc(t('simulated'))}</span></h3>
        <p class="muted small">${esc(t('planIntro'))}</p>
        <div class="plan-form-slot"></div>
        <div class="plan-result" aria-live="polite">${planResult(this.plan)}</div>
        ${this.planMapControls()}
      </section>`;
    body.querySelector('#energy-run').addEventListener('change', (e) => this.choose({ runId: e.target.value }));
    body.querySelector('#energy-compare').addEventListener('change', (e) => this.choose({ compareId: e.target.value }));
    body.querySelector('#energy-colour').addEventListener('change', (e) => this.choose({ colourBy: e.target.value }));
    for (const button of body.querySelectorAll('[data-season]')) {
      button.addEventListener('click', () => {
        this.season = button.dataset.season;
        this.render();
        this.panel.querySelector(`[data-season="${this.season}"]`)?.focus();
      });
    }
    this.mountPlanForm(body);
    body.querySelector('#energy-plan')?.addEventListener('change', (e) => this.choosePlan({ planId: e.target.value }));
    body.querySelector('#energy-plan-measure')?.addEventListener('change', (e) => this.choosePlan({ measure: e.target.value }));
    body.querySelector('#energy-plan-map')?.addEventListener('click', () => this.choosePlan({ mapPlan: !this.mapPlan }));
    if (focused) document.getElementById(focused)?.focus();
    this.renderLegend();
    for (const run of this.shownRuns()) this.renderProfiles(run);
    this.renderMonitoring();
  }

  async choose({ runId, compareId, colourBy }) {
    if (runId !== undefined) this.runId = runId;
    if (compareId !== undefined) this.compareId = compareId === this.runId ? '' : compareId;
    if (colourBy !== undefined && colourBy in COLOUR_BY) this.colourBy = colourBy;
    this.render();
    await this.showOnMap();
  }

  // --- what it takes ---------------------------------------------------------------------------

  /** The plan form, built once and moved into each render's slot (so typing survives the polling). */
  mountPlanForm(body) {
    if (!this.planFormEl) this.planFormEl = planForm(this.plan, () => this.submitPlan());
    else if (this.planFormEl.lang !== document.documentElement.lang) {
      this.planFormEl.redraw();
      this.planFormEl.lang = document.documentElement.lang;
    }
    body.querySelector('.plan-form-slot').append(this.planFormEl);
  }

  planMapControls() {
    if (this.plan.plan()?.status !== 'done') return '';
    const options = Object.entries(MEASURES)
      .map(([key, spec]) => `<option value="${key}" ${key === this.plan.measure ? 'selected' : ''}>${esc(t(spec.label))}</option>`)
      .join('');
    return `<div class="energy-controls plan-map">
      <label class="field"><span>${esc(t('planColourBy'))}</span><select id="energy-plan-measure">${options}</select></label>
      <button type="button" id="energy-plan-map" aria-pressed="${this.mapPlan}">${esc(t('planShowOnMap'))}</button></div>`;
  }

  async choosePlan({ planId, measure, mapPlan }) {
    if (planId !== undefined) this.plan.planId = planId;
    if (measure !== undefined && measure in MEASURES) this.plan.measure = measure;
    if (mapPlan !== undefined) this.mapPlan = mapPlan;
    this.render();
    await this.showOnMap();
  }

  async submitPlan() {
    const button = this.planFormEl.querySelector('#plan-submit');
    button.disabled = true;
    this.plan.message = { error: false, text: t('planSubmitting') };
    this.render();
    try {
      await this.plan.submit();
      this.plan.message = null;
      this.mapPlan = true; // its measures on the map once it is done
    } catch (error) {
      this.plan.message = { error: true, text: t('planFailed', { reason: error.message }) };
    } finally {
      button.disabled = false;
    }
    await this.refresh();
  }

  shownRuns() {
    return [this.run(), this.compareId ? this.run(this.compareId) : null].filter(Boolean);
  }

  runsStatus() {
    const pending = this.runs.filter((r) => r.status !== 'done');
    if (!pending.length) return '';
    const rows = pending
      .map(
        (r) => `<li data-run-status="${esc(r.id)}"><span>${esc(r.title || r.scenario)}</span>
        <progress max="1" value="${Number(r.progress) || 0}" aria-label="${esc(`${r.title || r.scenario}: ${t(r.status)}`)}"></progress>
        <span class="muted">${esc(t(r.status))}${r.status === 'running' ? ` ${formatNumber((Number(r.progress) || 0) * 100, 0)} %` : ''}</span>
        ${r.error ? `<span class="error">${esc(r.error)}</span>` : ''}</li>`,
      )
      .join('');
    const waiting = this.run()?.status === 'done' ? '' : `<p class="muted small">${esc(t('waitingForRun'))}</p>`;
    return `<div class="energy-runs" aria-live="polite"><h3>${esc(t('runsTitle'))}</h3><ul>${rows}</ul>${waiting}</div>`;
  }

  /** The KPI table: the SPARCS targets, then the district's figures, a column per shown scenario. */
  kpiTable() {
    const runs = this.shownRuns();
    if (!runs.length) return '';
    const targets = this.targets || {};
    const change = (run, key) => {
      const entry = run.targets?.[key];
      if (!entry) return '–';
      const mark = entry.met ? `<span class="met" title="${esc(t('met'))}">✓<span class="visually-hidden"> ${esc(t('met'))}</span></span>` : `<span class="not-met" title="${esc(t('notMet'))}">✗<span class="visually-hidden"> ${esc(t('notMet'))}</span></span>`;
      return `${esc(percent(entry.change, true))} ${mark}`;
    };
    const kpi = (run, render) => (run.status === 'done' && run.kpis ? render(run.kpis) : esc(t(run.status)));
    const rows = [
      [t('co2Change'), percent(targets.co2 ?? runs[0].targets?.co2?.target, true), (r) => change(r, 'co2')],
      [t('renewableChange'), percent(targets.renewable ?? runs[0].targets?.renewable?.target, true), (r) => change(r, 'renewable')],
      [t('energyChange'), percent(targets.final_energy ?? runs[0].targets?.final_energy?.target, true), (r) => change(r, 'final_energy')],
      [t('selfSufficiency'), '', (r) => kpi(r, (k) => esc(percent(k.self_sufficiency)))],
      [t('selfConsumption'), '', (r) => kpi(r, (k) => esc(percent(k.self_consumption)))],
      [t('renewableShare'), '', (r) => kpi(r, (k) => esc(percent(k.renewable_share)))],
      [t('co2'), '', (r) => kpi(r, (k) => esc(`${tonnes(k.co2_kg)} / a`))],
      [t('pv'), '', (r) => kpi(r, (k) => esc(`${formatNumber(k.pv_kwp, 0)} kWp · ${megawattHours(k.pv_kwh)}`))],
      // Each figure says what it holds: the balance subtracts all final energy (gas heating too),
      // not only the electricity consumption shown above it.
      [t('consumption'), '', (r) => kpi(r, (k) => esc(megawattHours(k.consumption_kwh)))],
      [t('finalEnergy'), '', (r) => kpi(r, (k) => esc(megawattHours(k.final_energy_kwh)))],
      [t('energyBalance'), '', (r) => kpi(r, (k) => esc(megawattHours(k.energy_balance_kwh)))],
      [t('positiveEnergy'), '', (r) => kpi(r, (k) => esc(k.positive_energy ? t('yes') : t('no')))],
      [t('buildings'), '', (r) => kpi(r, (k) => esc(formatNumber(k.buildings)))],
    ];
    const head = runs.map((r) => `<th scope="col">${esc(r.title || r.scenario)}</th>`).join('');
    const body = rows.map(([label, target, cell]) => `<tr><th scope="row">${esc(label)}</th><td class="target">${esc(target)}</td>${runs.map((r) => `<td>${cell(r)}</td>`).join('')}</tr>`).join('');
    return `<table class="attributes kpis" data-testid="energy-kpis"><caption class="visually-hidden">${esc(t('kpiTitle'))} (${esc(t('simulated'))})</caption>
      <thead><tr><th scope="col">${esc(t('kpi'))}</th><th scope="col">${esc(t('target'))}</th>${head}</tr></thead><tbody>${body}</tbody></table>`;
  }

  async profilesOf(run) {
    if (!this.profiles.has(run.id)) {
      this.profiles.set(
        run.id,
        getJSON(`api/energy/runs/${encodeURIComponent(run.id)}/profiles`).catch((error) => {
          this.profiles.delete(run.id);
          throw error;
        }),
      );
    }
    return this.profiles.get(run.id);
  }

  async renderProfiles(run) {
    const box = () => this.panel.querySelector(`.energy-column[data-run="${CSS.escape(run.id)}"] .energy-profiles`);
    if (run.status !== 'done') {
      if (box()) box().innerHTML = `<p class="muted">${esc(t('waitingForRun'))}</p>`;
      return;
    }
    let profiles;
    try {
      profiles = await this.profilesOf(run);
    } catch (error) {
      if (box()) box().innerHTML = `<p class="error">${esc(t('loadFailed', { what: error.message }))}</p>`;
      return;
    }
    const target = box();
    if (!target) return; // re-rendered meanwhile
    const flows = (profiles.flows || []).filter((f) => f in FLOW_COLORS);
    const label = (flow) => profiles.labels?.[flow] || flow;
    const daily = profiles.daily?.seasons?.[this.season] || {};
    const hours = profiles.daily?.hours || [];
    const dailyChart = lineChart({
      xs: hours,
      series: flows.filter((f) => daily[f]).map((f) => ({ name: label(f), color: FLOW_COLORS[f], values: daily[f] })),
      unit: profiles.daily?.unit || 'kW',
      xTicks: [0, 6, 12, 18, 24],
      xFormat: (h) => `${String(h).padStart(2, '0')}:00`,
      summary: `${t('dailyProfiles', { season: t(this.season) })}, ${t('simulated')}`,
    });
    const months = profiles.monthly?.months || [];
    const monthName = (m) => new Intl.DateTimeFormat(document.documentElement.lang === 'de' ? 'de-DE' : 'en-GB', { month: 'short', timeZone: 'UTC' }).format(Date.UTC(2023, m - 1, 15));
    const monthlyChart = lineChart({
      xs: months,
      series: flows.filter((f) => profiles.monthly?.values?.[f]).map((f) => ({ name: label(f), color: FLOW_COLORS[f], values: profiles.monthly.values[f] })),
      unit: profiles.monthly?.unit || 'MWh',
      xTicks: months.filter((m) => m % 3 === 1),
      xFormat: monthName,
      summary: `${t('monthly')}, ${t('simulated')}`,
    });
    const links = (run.links || []).filter((l) => l.rel === 'timeseries-csv');
    target.replaceChildren(
      html(`<h5 class="chart-title">${esc(t('dailyProfiles', { season: t(this.season) }))} <span class="badge simulated">${esc(t('simulated'))}</span></h5>`),
      figure(dailyChart, 'daily'),
      html(`<h5 class="chart-title">${esc(t('monthly'))} <span class="badge simulated">${esc(t('simulated'))}</span></h5>`),
      figure(monthlyChart, 'monthly'),
      chartKey(flows.map((f) => ({ name: label(f), color: FLOW_COLORS[f] }))),
      ...links.map((l) => html(`<p><a href="${esc(apiUrl(l.href.replace(/^\//, '')))}" download>${esc(t('timeseriesCsv'))}</a></p>`)),
    );
  }

  async renderMonitoring() {
    const section = this.panel.querySelector('.energy-monitoring');
    const run = this.run();
    if (!section || run?.status !== 'done') {
      if (section) section.innerHTML = '';
      return;
    }
    section.innerHTML = `<h3>${esc(t('monitoring'))}</h3><p class="muted small">${esc(t('simulatedMeters'))} (${esc(t('lastDays', { n: MONITOR_DAYS }))})</p><div class="monitoring-body"><p class="muted">${esc(t('loading'))}</p></div>`;
    if (!this.monitoring.has(run.id)) {
      try {
        this.monitoring.set(run.id, await getJSON('api/energy/monitoring', { params: { run: run.id, days: MONITOR_DAYS } }));
      } catch (error) {
        this.monitoring.set(run.id, { error: error.message });
      }
    }
    const doc = this.monitoring.get(run.id);
    const target = this.panel.querySelector('.energy-monitoring .monitoring-body');
    if (!target || this.run()?.id !== run.id) return;
    if (doc.error) {
      target.innerHTML = `<p class="error">${esc(t('loadFailed', { what: doc.error }))}</p>`;
      return;
    }
    target.replaceChildren(...monitoringParts(doc));
  }

  /** The monitoring of a clicked building, or of its block, in the building's panel: the meters of
   * that level against the run's plan Datastreams (`/api/energy/monitoring?building=|block=`). */
  meterMonitoring(properties) {
    const run = this.run();
    const wanted = [
      ['building', properties.building_key],
      ['block', properties.block],
    ].filter(([, key]) => key !== undefined && key !== null && key !== '');
    const section = html(`<section class="energy-meter-monitoring" data-testid="energy-meter-monitoring" aria-busy="true">
      <h3>${esc(t('monitoring'))}</h3>
      <p class="muted small">${esc(t('simulatedMeters'))} (${esc(t('lastDays', { n: MONITOR_DAYS }))})</p>
      <div class="segments" role="group" aria-label="${esc(t('meterLevel'))}"></div>
      <div class="monitoring-body" aria-live="polite"><p class="muted">${esc(t('loading'))}</p></div></section>`);
    if (!run || run.status !== 'done' || !wanted.length) {
      section.remove();
      return document.createComment('no monitoring');
    }
    const target = section.querySelector('.monitoring-body');
    const buttons = section.querySelector('.segments');
    const show = async (level, key) => {
      for (const button of buttons.querySelectorAll('[data-meter-level]')) button.setAttribute('aria-pressed', String(button.dataset.meterLevel === level));
      section.setAttribute('aria-busy', 'true');
      target.innerHTML = `<p class="muted">${esc(t('loading'))}</p>`;
      try {
        const doc = await getJSON('api/energy/monitoring', { params: { run: run.id, days: MONITOR_DAYS, [level]: key } });
        target.replaceChildren(html(`<p class="small">${esc(t(level === 'building' ? 'meterOfBuilding' : 'meterOfBlock', { key }))}</p>`), ...monitoringParts(doc));
      } catch (error) {
        target.innerHTML = `<p class="error">${esc(t('loadFailed', { what: error.message }))}</p>`;
      } finally {
        section.setAttribute('aria-busy', 'false');
      }
    };
    // Which of the two have meters (Things the caller may read): asked first, so that a building
    // without meters is no failed request. The building's own are shown where it has them.
    const literal = (key) => `'${String(key).replace(/'/g, "''")}'`;
    const filter = `properties/meter_level ne null and (${wanted.map(([level, key]) => `(properties/meter_level eq '${level}' and properties/meter_key eq ${literal(key)})`).join(' or ')})`;
    getJSON('v1.1/Things', { params: { $filter: filter, $select: 'id,properties', $top: 10 } })
      .then((found) => {
        const present = new Set((found.value || []).map((thing) => `${thing.properties?.meter_level}:${thing.properties?.meter_key}`));
        const levels = wanted.filter(([level, key]) => present.has(`${level}:${key}`));
        if (!levels.length) {
          target.innerHTML = `<p class="muted">${esc(t('noMetersHere'))}</p>`;
          section.setAttribute('aria-busy', 'false');
          return;
        }
        buttons.innerHTML = levels.map(([level]) => `<button type="button" class="segment" data-meter-level="${level}" aria-pressed="false">${esc(t(level === 'building' ? 'thisBuilding' : 'itsBlock'))}</button>`).join('');
        for (const [level, key] of levels) buttons.querySelector(`[data-meter-level="${level}"]`).addEventListener('click', () => show(level, key));
        show(...levels[0]);
      })
      .catch((error) => {
        target.innerHTML = `<p class="error">${esc(t('loadFailed', { what: error.message }))}</p>`;
        section.setAttribute('aria-busy', 'false');
      });
    return section;
  }
}

/** Plan against actual as a table and a chart of the hours (a monitoring document of the API). */
function monitoringParts(doc) {
  const keys = [
    ['self_sufficiency', t('selfSufficiency'), percent],
    ['self_consumption', t('selfConsumption'), percent],
    ['renewable_share', t('renewableShare'), percent],
    ['consumption_kwh', t('consumption'), energyAmount],
    ['pv_kwh', t('pv'), energyAmount],
    ['co2_kg', t('co2'), mass],
  ];
  const rows = keys
    .map(([key, label, format]) => `<tr><th scope="row">${esc(label)}</th><td>${esc(format(doc.plan?.[key]))}</td><td>${doc.actual ? esc(format(doc.actual[key])) : '–'}</td></tr>`)
    .join('');
  const table = html(`<table class="attributes" data-testid="energy-monitoring"><thead><tr><th></th><th scope="col">${esc(t('plan'))}</th><th scope="col">${esc(t('actual'))} (${esc(t('simulated'))})</th></tr></thead><tbody>${rows}</tbody></table>`);
  const parts = [table];
  if (!doc.actual) parts.push(html(`<p class="muted">${esc(t('noMeterData'))}</p>`));
  const times = (doc.series?.time || []).map((time) => Date.parse(time));
  const flow = ['consumption', 'pv'].find((f) => doc.series?.plan?.[f]);
  if (times.length > 1 && flow) {
    const series = [{ name: `${t(flow === 'pv' ? 'pv' : 'consumption')} · ${t('plan')}`, color: FLOW_COLORS[flow], values: doc.series.plan[flow], dashed: true }];
    if (doc.series.actual?.[flow]) series.push({ name: `${t(flow === 'pv' ? 'pv' : 'consumption')} · ${t('actual')}`, color: '#1a202c', values: doc.series.actual[flow] });
    const span = times[times.length - 1] - times[0];
    parts.push(
      figure(
        lineChart({
          xs: times,
          series,
          unit: doc.series.unit || 'kWh',
          xTicks: [0, 1, 2, 3].map((i) => times[0] + (span * i) / 3),
          xFormat: (ms) => new Intl.DateTimeFormat(document.documentElement.lang === 'de' ? 'de-DE' : 'en-GB', { day: 'numeric', month: 'short', timeZone: timeZone() }).format(ms),
          summary: `${t('monitoring')}, ${t('simulated')}`,
        }),
        'monitoring',
      ),
      chartKey(series),
    );
  }
  return parts;
}

function figure(svg, name) {
  const box = document.createElement('figure');
  box.className = 'chart-box';
  box.dataset.chart = name;
  box.append(svg);
  return box;
}

function chartKey(series) {
  return html(`<p class="chart-key">${series.map((s) => `<span class="key-line" style="background:${s.dashed ? `repeating-linear-gradient(90deg, ${s.color} 0 4px, transparent 4px 7px)` : s.color}"></span>${esc(s.name)}`).join(' ')}</p>`);
}
