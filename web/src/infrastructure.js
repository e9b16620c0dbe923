// The digital-infrastructure view: the sites of the operators' registries (public WLAN, 5G small
// cells, LoRaWAN and sensor gateways) coloured by technology and filtered by technology and
// operator; the coverage model's map of a technology — its gaps (people without coverage) or its
// covered area — with the table per district; the stored siting scenarios' proposed sites with the
// people each adds; and a site's panel with its live client count (a Freifunk node's Datastream) or
// its LoRaWAN uplink statistics (which devices it heard, how often, how strongly).
// The data come from the infrastructure API (/api/infrastructure/…, docs/infrastructure.md) and the
// SensorThings API; every figure of the coverage model says it is a model result. The view draws
// layers of its own and changes no other layer's visibility. Loaded when first opened (main.js).

import { getJSON, quoted } from './api.js';
import { formatNumber, language, t } from './i18n.js';
import './infrastructure-strings.js';
import { SideView } from './sideview.js';
import { esc, html, openPanel } from './ui.js';

export const SOURCE_PREFIX = 'infrastructure:';
const SITES = 'infrastructure::sites';
const PROPOSED = 'infrastructure::proposed';
const COVERAGE = 'infrastructure::coverage';
const SOURCES = { sites: `${SOURCE_PREFIX}sites`, proposed: `${SOURCE_PREFIX}proposed`, coverage: `${SOURCE_PREFIX}coverage` };
/** Each technology's colour and text (docs/infrastructure.md, `vocabulary.TECHNOLOGIES`). */
const TECHNOLOGY = {
  wlan: { color: '#2b6cb0', label: 'infraWlan' },
  '5g_small_cell': { color: '#805ad5', label: 'infra5g' },
  lorawan_gateway: { color: '#dd6b20', label: 'infraLorawan' },
  sensor_gateway: { color: '#2f855a', label: 'infraSensorGateway' },
};
const OTHER = '#718096';
const MAP_COLOURS = { gaps: '#e53e3e', covered: '#38a169' };
/** The resolutions offered for the coverage model (m): coarser is faster on a city's area. */
const RESOLUTIONS = [25, 50, 100];
/** How often a site's panel asks again for its live values (ms). */
const LIVE_MS = 60000;
/** The SensorThings key of a Freifunk node's client-count Datastream (infrastructure/freifunk.py). */
const clientsKey = (siteId) => `freifunk:node:${siteId}:clients`;

const technologyText = (tech) => (tech in TECHNOLOGY ? t(TECHNOLOGY[tech].label) : tech || t('infraUnknown'));
const number = (value, digits = 0) => (Number.isFinite(value) ? formatNumber(value, digits) : '–');
const percent = (share) => (Number.isFinite(share) ? `${formatNumber(share * 100, 0)} %` : '–');
const labelText = (label) => (label && typeof label === 'object' ? label[language()] || label.en : label) || '';

export class InfrastructureView extends SideView {
  constructor(map, options = {}) {
    super(map, 'infrastructure', options);
    this.sites = null; // the sites' FeatureCollection
    this.hiddenTechnologies = new Set();
    this.hiddenOperators = new Set();
    this.technology = null; // of the coverage model
    this.resolution = 50;
    this.mapKind = 'gaps';
    this.coverage = null; // the model's answer
    this.computing = false;
    this.scenarios = [];
    this.scenarioId = '';
    this.scenario = null;
  }

  async load() {
    try {
      const [sites, scenarios] = await Promise.all([getJSON('api/infrastructure/sites', { params: { limit: 10000 } }), getJSON('api/infrastructure/siting').catch(() => ({ scenarios: [] }))]);
      this.sites = sites;
      this.scenarios = scenarios.scenarios || [];
      this.error = null;
    } catch (error) {
      this.error = error.message;
    }
    const present = this.technologies().map(([tech]) => tech);
    if (!present.includes(this.technology)) this.technology = present.find((tech) => tech in TECHNOLOGY) || null;
    this.render();
    this.showSites();
  }

  /** [technology, count] of the sites, most first. */
  technologies() {
    return this.counted((p) => p.technology);
  }

  operators() {
    return this.counted((p) => p.operator || '');
  }

  counted(key) {
    const counts = new Map();
    for (const f of this.sites?.features || []) counts.set(key(f.properties), (counts.get(key(f.properties)) || 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
  }

  // --- the map ----------------------------------------------------------------------------------

  owns(hit) {
    return String(hit.source || '').startsWith(SOURCE_PREFIX);
  }

  inspect(hit) {
    if (hit.layer?.id === PROPOSED) return this.openProposed(hit.properties);
    const site = (this.sites?.features || []).find((f) => f.id === hit.properties?.key);
    if (site) this.openSite(site);
  }

  setSource(name, data) {
    const source = this.map.getSource(SOURCES[name]);
    if (source) source.setData(data);
    else this.map.addSource(SOURCES[name], { type: 'geojson', data, attribution: name === 'sites' ? '' : undefined });
  }

  showSites() {
    if (!this.isOpen || !this.sites) return;
    // The feature's id is its registry and site id; kept as a property too (GeoJSON sources want numeric ids).
    const features = this.sites.features.filter((f) => f.geometry).map((f) => ({ ...f, id: undefined, properties: { ...f.properties, key: f.id } }));
    this.setSource('sites', { type: 'FeatureCollection', features });
    if (!this.map.getLayer(SITES)) {
      const colours = Object.entries(TECHNOLOGY).flatMap(([tech, how]) => [tech, how.color]);
      this.map.addLayer(
        {
          id: SITES,
          type: 'circle',
          source: SOURCES.sites,
          metadata: { entry: 'infrastructure' },
          paint: {
            'circle-color': ['match', ['get', 'technology'], ...colours, OTHER],
            'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 3, 16, 7],
            'circle-stroke-color': '#ffffff',
            'circle-stroke-width': 1.2,
          },
        },
        this.beforeId,
      );
    }
    this.filterSites();
  }

  filterSites() {
    if (!this.map.getLayer(SITES)) return;
    const conditions = [];
    if (this.hiddenTechnologies.size) conditions.push(['!', ['in', ['get', 'technology'], ['literal', [...this.hiddenTechnologies]]]]);
    if (this.hiddenOperators.size) conditions.push(['!', ['in', ['coalesce', ['get', 'operator'], ''], ['literal', [...this.hiddenOperators]]]]);
    this.map.setFilter(SITES, conditions.length ? ['all', ...conditions] : null);
  }

  showCoverage() {
    const feature = this.coverage?.map;
    if (!this.isOpen) return;
    const data = { type: 'FeatureCollection', features: feature?.geometry ? [feature] : [] };
    this.setSource('coverage', data);
    if (!this.map.getLayer(COVERAGE)) {
      // Beneath the sites: the map is the background of the question where sites help.
      this.map.addLayer({ id: COVERAGE, type: 'fill', source: SOURCES.coverage, paint: { 'fill-opacity': 0.45 } }, this.map.getLayer(SITES) ? SITES : this.beforeId);
    }
    this.map.setPaintProperty(COVERAGE, 'fill-color', MAP_COLOURS[feature?.properties?.map] || MAP_COLOURS.gaps);
  }

  showProposed() {
    if (!this.isOpen) return;
    const features = (this.scenario?.sites || []).filter((s) => s.geometry).map((s) => ({ type: 'Feature', geometry: s.geometry, properties: { ...s, geometry: undefined } }));
    this.setSource('proposed', { type: 'FeatureCollection', features });
    if (!this.map.getLayer(PROPOSED)) {
      this.map.addLayer(
        {
          id: PROPOSED,
          type: 'circle',
          source: SOURCES.proposed,
          metadata: { entry: 'infrastructure' },
          paint: {
            'circle-color': '#ecc94b',
            'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 5, 16, 10],
            'circle-stroke-color': '#1a202c',
            'circle-stroke-width': 2,
          },
        },
        this.beforeId,
      );
    }
  }

  removeLayers() {
    this.removeFromMap([PROPOSED, SITES, COVERAGE], Object.values(SOURCES));
  }

  /** Show the sites on the map (fit the view to them). */
  fit() {
    const points = (this.sites?.features || []).filter((f) => f.geometry?.type === 'Point').map((f) => f.geometry.coordinates);
    if (!points.length) return;
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    this.map.fitBounds([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], { padding: 60, duration: 0, maxZoom: 16 });
  }

  // --- the model --------------------------------------------------------------------------------

  async compute() {
    if (!this.technology) return;
    const asked = `${this.technology}/${this.resolution}/${this.mapKind}`;
    this.asked = asked;
    this.computing = true;
    this.coverage = null;
    this.coverageError = null;
    this.render();
    try {
      const answer = await getJSON('api/infrastructure/coverage', { params: { technology: this.technology, resolution: this.resolution, map: this.mapKind } });
      if (this.asked !== asked) return;
      this.coverage = answer;
    } catch (error) {
      if (this.asked !== asked) return;
      this.coverageError = error.message;
    }
    this.computing = false;
    this.render();
    this.showCoverage();
  }

  async chooseScenario(id) {
    this.scenarioId = id;
    this.scenario = null;
    this.render();
    if (id) {
      try {
        const scenario = await getJSON(`api/infrastructure/siting/${encodeURIComponent(id)}`);
        if (this.scenarioId !== id) return;
        this.scenario = scenario;
      } catch (error) {
        this.scenario = { error: error.message };
      }
    }
    this.render();
    this.showProposed();
  }

  // --- a site -----------------------------------------------------------------------------------

  openSite(site) {
    const p = site.properties;
    const slots = p.slots || [];
    const yes = (v) => (v === true ? t('infraYes') : v === false ? t('infraNo') : v ?? '–');
    const facts = html(`<dl class="facts" data-testid="infrastructure-site-facts">
      <dt>${esc(t('infraOperator'))}</dt><dd>${esc(p.operator || '–')}</dd>
      <dt>${esc(t('infraTechnology'))}</dt><dd data-testid="infrastructure-site-technology">${esc(technologyText(p.technology))}</dd>
      <dt>${esc(t('infraCarrier'))}</dt><dd>${esc(labelText(p.labels?.carrier) || p.carrier || '–')}</dd>
      <dt>${esc(t('infraHeight'))}</dt><dd>${Number.isFinite(p.height_m) ? `${esc(number(p.height_m, 1))} m` : '–'}</dd>
      <dt>${esc(t('infraPower'))}</dt><dd>${esc(yes(p.power))}</dd>
      <dt>${esc(t('infraFibre'))}</dt><dd>${esc(yes(p.fibre))}</dd>
      <dt>${esc(t('infraSlots'))}</dt><dd>${slots.length ? esc(t('infraFreeSlots', { n: p.free_slots, total: slots.length })) : '–'}</dd>
      ${p.online === undefined ? '' : `<dt>${esc(t('infraOnline'))}</dt><dd>${esc(yes(p.online))}</dd>`}
    </dl>`);
    const live = html('<div class="infrastructure-live" data-testid="infrastructure-live"></div>');
    let timer = null;
    const body = openPanel({
      kind: `${t('infraSite')} · ${technologyText(p.technology)}`,
      title: p.name || p.site_id,
      body: [facts, live],
      panel: 'infrastructure-site',
      closed: () => clearInterval(timer),
    });
    const refresh = () => (body.isConnected ? this.live(site, live) : clearInterval(timer));
    refresh();
    timer = setInterval(refresh, LIVE_MS);
  }

  /** The site's live figures: a LoRaWAN gateway's uplinks, else a node's latest client count. */
  async live(site, box) {
    const p = site.properties;
    try {
      const figures = p.technology === 'lorawan_gateway' ? await this.uplinkStatistics(site) : await this.clientCount(p);
      box.replaceChildren(html(`<div>${figures}</div>`));
    } catch (error) {
      box.replaceChildren(html(`<p class="error">${esc(t('loadFailed', { what: error.message }))}</p>`));
    }
  }

  async clientCount(p) {
    const filter = `properties/import_key eq ${quoted(clientsKey(p.site_id))}`;
    const found = await getJSON('v1.1/Datastreams', { params: { $filter: filter, $select: 'id,name', $expand: 'Observations($orderby=phenomenonTime desc;$top=1;$select=result,phenomenonTime)' } });
    const stream = found.value?.[0];
    const latest = stream?.Observations?.[0];
    if (!latest) return `<p class="muted">${esc(t('infraNoLive'))}</p>`;
    const when = new Date(latest.phenomenonTime.split('/')[0]).toLocaleString(language());
    return `<p class="big-value"><strong data-testid="infrastructure-clients">${esc(t('infraClients', { n: latest.result }))}</strong> <span class="muted">${esc(t('infraAt', { time: when }))}</span></p>
      <p class="muted small">${esc(t('infraClientsNote'))}</p>`;
  }

  async uplinkStatistics(site) {
    const coverage = await getJSON('api/infrastructure/lorawan/coverage');
    const heard = [];
    for (const device of coverage.devices || []) {
      for (const gateway of device.gateways || []) if (gateway.site === site.id) heard.push({ device, gateway });
    }
    if (!heard.length) return `<p class="muted">${esc(t('infraNoUplinks'))}</p>`;
    const uplinks = heard.reduce((sum, h) => sum + h.gateway.uplinks, 0);
    const rows = heard
      .map(
        ({ device, gateway }) =>
          `<tr><th scope="row">${esc(device.dev_eui)}</th><td>${esc(number(gateway.uplinks))}</td><td>${esc(number(gateway.median_rssi, 1))} dBm</td><td>${esc(number(gateway.median_snr, 1))} dB</td><td>${device.redundant ? '' : `<span class="badge">${esc(t('infraOnlyGateway'))}</span>`}</td></tr>`,
      )
      .join('');
    return `<p class="big-value"><strong data-testid="infrastructure-uplinks">${esc(t('infraUplinks', { n: uplinks }))}</strong> <span class="muted">${esc(t('infraDevices', { n: heard.length }))}</span></p>
      <table class="attributes" data-testid="infrastructure-devices"><caption class="visually-hidden">${esc(t('infraHeardDevices'))}</caption><thead><tr><th scope="col">DevEUI</th><th scope="col">${esc(t('infraUplinksHeading'))}</th><th scope="col">RSSI</th><th scope="col">SNR</th><th scope="col"></th></tr></thead><tbody>${rows}</tbody></table>`;
  }

  openProposed(s) {
    openPanel({
      kind: `${t('infraProposedSite')} · ${t('infraModel')}`,
      title: `${t('infraRank', { rank: s.rank })} · ${s.name || s.candidate}`,
      body: html(`<div><p class="simulated-line"><span class="badge simulated">${esc(t('infraModel'))}</span> ${esc(t('infraModelNote'))}</p>
        <dl class="facts"><dt>${esc(t('infraGain'))}</dt><dd data-testid="infrastructure-gain">${esc(t('infraPeople', { n: Math.round(Number(s.gain_people) || 0) }))}</dd>
        <dt>${esc(t('infraCandidate'))}</dt><dd>${esc(s.candidate ?? '–')}</dd>
        ${s.method ? `<dt>${esc(t('infraMethod'))}</dt><dd>${esc(s.method)}</dd>` : ''}${s.band ? `<dt>${esc(t('infraBand'))}</dt><dd>${esc(s.band)}</dd>` : ''}</dl></div>`),
      panel: 'infrastructure-proposed',
    });
  }

  // --- the panel --------------------------------------------------------------------------------

  render() {
    if (!this.panel) return;
    this.panel.querySelector('#infrastructure-title').textContent = t('infraTitle');
    const close = this.panel.querySelector('.infrastructure-close');
    close.setAttribute('aria-label', t('close'));
    close.title = t('close');
    const body = this.panel.querySelector('.infrastructure-body');
    const focused = document.activeElement?.id;
    const count = this.sites?.features?.length ?? 0;
    const checkbox = (kind, value, label, n, hidden) =>
      `<li><label><input type="checkbox" data-${kind}="${esc(value)}" ${hidden ? '' : 'checked'}/> ${kind === 'technology' ? `<span class="swatch dot" aria-hidden="true" style="background:${TECHNOLOGY[value]?.color || OTHER}"></span>` : ''}${esc(label)} <span class="muted small">${esc(number(n))}</span></label></li>`;
    body.innerHTML = `
      ${this.error ? `<p class="error">${esc(t('loadFailed', { what: this.error }))}</p>` : ''}
      ${this.sites ? `<p class="muted small" data-testid="infrastructure-count">${esc(t('infraSites', { n: count }))}</p>` : this.error ? '' : `<p class="muted">${esc(t('loading'))}</p>`}
      ${this.sites && !count ? `<p class="muted">${esc(t('infraNoSites'))}</p>` : ''}
      ${count ? `<h3>${esc(t('infraByTechnology'))}</h3><ul class="infrastructure-filter" data-testid="infrastructure-technologies">${this.technologies().map(([tech, n]) => checkbox('technology', tech, technologyText(tech), n, this.hiddenTechnologies.has(tech))).join('')}</ul>
      <h3>${esc(t('infraByOperator'))}</h3><ul class="infrastructure-filter" data-testid="infrastructure-operators">${this.operators().map(([op, n]) => checkbox('operator', op, op || t('infraUnknown'), n, this.hiddenOperators.has(op))).join('')}</ul>
      <button type="button" class="text-button" id="infrastructure-fit">${esc(t('infraShowAll'))}</button>` : ''}
      ${count ? this.coverageSection() : ''}
      ${this.scenariosSection()}`;
    for (const box of body.querySelectorAll('input[data-technology], input[data-operator]')) {
      box.addEventListener('change', () => {
        const [set, value] = box.dataset.technology !== undefined ? [this.hiddenTechnologies, box.dataset.technology] : [this.hiddenOperators, box.dataset.operator];
        if (box.checked) set.delete(value);
        else set.add(value);
        this.filterSites();
      });
    }
    body.querySelector('#infrastructure-fit')?.addEventListener('click', () => this.fit());
    body.querySelector('#infrastructure-technology')?.addEventListener('change', (e) => (this.technology = e.target.value));
    body.querySelector('#infrastructure-resolution')?.addEventListener('change', (e) => (this.resolution = Number(e.target.value)));
    for (const button of body.querySelectorAll('[data-map]')) {
      button.addEventListener('click', () => {
        this.mapKind = button.dataset.map;
        this.compute();
      });
    }
    body.querySelector('#infrastructure-compute')?.addEventListener('click', () => this.compute());
    body.querySelector('#infrastructure-scenario')?.addEventListener('change', (e) => this.chooseScenario(e.target.value));
    for (const row of body.querySelectorAll('[data-rank]')) {
      row.addEventListener('click', () => {
        const site = this.scenario.sites.find((s) => String(s.rank) === row.dataset.rank);
        if (site.geometry?.type === 'Point') this.map.jumpTo({ center: site.geometry.coordinates, zoom: Math.max(this.map.getZoom(), 16) });
        this.openProposed(site);
      });
    }
    if (focused) document.getElementById(focused)?.focus();
  }

  coverageSection() {
    const modelled = this.technologies().filter(([tech]) => tech in TECHNOLOGY);
    const options = modelled.map(([tech]) => `<option value="${esc(tech)}" ${tech === this.technology ? 'selected' : ''}>${esc(technologyText(tech))}</option>`).join('');
    const resolutions = RESOLUTIONS.map((r) => `<option value="${r}" ${r === this.resolution ? 'selected' : ''}>${r} m</option>`).join('');
    const segments = ['gaps', 'covered']
      .map((kind) => `<button type="button" class="segment" data-map="${kind}" aria-pressed="${kind === this.mapKind}">${esc(t(kind === 'gaps' ? 'infraGaps' : 'infraCovered'))}</button>`)
      .join('');
    return `<h3>${esc(t('infraCoverage'))} <span class="badge simulated">${esc(t('infraModel'))}</span></h3>
      <p class="simulated-line muted small">${esc(t('infraModelNote'))}</p>
      <div class="energy-controls infrastructure-controls">
        <label class="field"><span>${esc(t('infraTechnology'))}</span><select id="infrastructure-technology">${options}</select></label>
        <label class="field"><span>${esc(t('infraResolution'))}</span><select id="infrastructure-resolution">${resolutions}</select></label>
      </div>
      <div class="segments" role="group" aria-label="${esc(t('infraMapShows'))}">${segments}</div>
      <button type="button" class="text-button" id="infrastructure-compute" ${this.computing || !options ? 'disabled' : ''}>${esc(t(this.computing ? 'infraComputing' : 'infraCompute'))}</button>
      ${this.coverageError ? `<p class="error">${esc(t('loadFailed', { what: this.coverageError }))}</p>` : ''}
      ${this.coverage ? this.coverageTable() : ''}`;
  }

  coverageTable() {
    const c = this.coverage;
    const total = c.total || {};
    const legend = `<p class="legend infrastructure-legend" data-testid="infrastructure-legend"><span class="swatch dot" aria-hidden="true" style="background:${MAP_COLOURS[c.map?.properties?.map] || MAP_COLOURS.gaps}"></span> ${esc(t(c.map?.properties?.map === 'covered' ? 'infraCoveredLegend' : 'infraGapsLegend'))}</p>`;
    const rows = (c.districts || [])
      .map(
        (d) =>
          `<tr><th scope="row">${esc(d.name)}</th><td>${esc(percent(d.covered_population_share))}</td><td>${esc(percent(d.covered_area_share))}</td><td>${esc(number(d.population_in_area))}</td></tr>`,
      )
      .join('');
    return `${legend}
      <p data-testid="infrastructure-total">${esc(t('infraTotal', { people: number(total.covered_population), of: number(total.population_in_area), n: c.sites, band: labelText(c.label) }))}</p>
      ${rows ? `<table class="attributes kpis" data-testid="infrastructure-districts"><caption class="visually-hidden">${esc(t('infraCoverage'))} (${esc(t('infraModel'))})</caption><thead><tr><th scope="col">${esc(t('infraDistrict'))}</th><th scope="col">${esc(t('infraPeopleCovered'))}</th><th scope="col">${esc(t('infraAreaCovered'))}</th><th scope="col">${esc(t('infraResidents'))}</th></tr></thead><tbody>${rows}</tbody></table>` : ''}`;
  }

  scenariosSection() {
    if (!this.scenarios.length) return `<h3>${esc(t('infraSiting'))}</h3><p class="muted">${esc(t('infraNoScenarios'))}</p>`;
    const options = this.scenarios.map((s) => `<option value="${esc(s.id)}" ${s.id === this.scenarioId ? 'selected' : ''}>${esc(s.title || s.id)}</option>`).join('');
    const scenario = this.scenario;
    let list = '';
    if (scenario?.error) list = `<p class="error">${esc(t('loadFailed', { what: scenario.error }))}</p>`;
    else if (scenario) {
      const rows = (scenario.sites || [])
        .map((s) => `<tr data-rank="${esc(s.rank)}"><th scope="row">${esc(s.rank)}</th><td>${esc(s.name || s.candidate)}</td><td>${esc(t('infraPeople', { n: Math.round(Number(s.gain_people) || 0) }))}</td></tr>`)
        .join('');
      const gained = (scenario.sites || []).reduce((sum, s) => sum + (Number(s.gain_people) || 0), 0);
      list = `<p data-testid="infrastructure-scenario-gain">${esc(t('infraScenarioGain', { n: (scenario.sites || []).length, people: number(gained) }))}</p>
        <table class="attributes kpis" data-testid="infrastructure-proposed"><caption class="visually-hidden">${esc(t('infraProposedSites'))}</caption><thead><tr><th scope="col">${esc(t('infraRankHeading'))}</th><th scope="col">${esc(t('infraCandidate'))}</th><th scope="col">${esc(t('infraGain'))}</th></tr></thead><tbody>${rows}</tbody></table>`;
    }
    return `<h3>${esc(t('infraSiting'))} <span class="badge simulated">${esc(t('infraModel'))}</span></h3>
      <label class="field"><span>${esc(t('infraScenario'))}</span><select id="infrastructure-scenario"><option value="">${esc(t('infraChooseScenario'))}</option>${options}</select></label>${list}`;
  }
}
