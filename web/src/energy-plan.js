// "What it takes" in the energy view: the target-seeking planner of the energy API (/api/energy/plans,
// docs/energy.md). The form chooses the targets (the three SPARCS targets with sliders, each can be
// left out) and a budget, and submits a plan with the caller's access token (a plan writes results,
// so it needs a principal who may); the plan is queued, its progress followed, and once done the
// portfolio is shown: totals, each target met or missed by how much, what binds in plain words, and
// the measures by count and cost (the text alternative of the map, where the buildings are coloured
// by their measure — refurbishment, heat supply, PV and battery, or EV smart charging — with a
// legend). A clicked building lists its measures and their costs (`measureFacts`).

import { apiUrl } from './api.js';
import { formatNumber, t } from './i18n.js';
import { esc } from './ui.js';

/** The targets, their slider ranges in percent and the SPARCS defaults. */
export const TARGETS = [
  { key: 'co2', label: 'co2Change', min: -100, max: 0, value: -64 },
  { key: 'renewable', label: 'renewableChange', min: 0, max: 300, value: 65 },
  { key: 'final_energy', label: 'energyChange', min: -100, max: 0, value: -53 },
];

const GREY = '#d9d9d9';
const NO_VALUE = '#c9c4ba';
const truthy = (name) => ['in', ['to-string', ['get', name]], ['literal', ['true', '1']]];

/** Per measure: the building property it reads, its categories (colour and text) and the map's colour expression. */
export const MEASURES = {
  refurbishment: {
    label: 'planRefurbishment',
    categories: [
      ['#6baed6', 'planRefurbishmentUsual'],
      ['#08519c', 'planRefurbishmentAdvanced'],
      [GREY, 'planNoMeasure'],
    ],
    color: ['case', ['!', truthy('plan_refurbishment_changed')], GREY, ['match', ['get', 'plan_refurbishment'], 'usual', '#6baed6', 'advanced', '#08519c', NO_VALUE]],
  },
  heating: {
    label: 'planHeating',
    categories: [
      ['#e6550d', 'planHeatPump'],
      ['#756bb1', 'planDistrictHeating'],
      [GREY, 'planGasBoiler'],
    ],
    color: ['match', ['get', 'plan_heating'], 'heat_pump', '#e6550d', 'district_heating', '#756bb1', 'gas', GREY, NO_VALUE],
  },
  pv: {
    label: 'planPv',
    categories: [
      ['#1a9641', 'planPvBattery'],
      ['#a6d96a', 'planPvOnly'],
      [GREY, 'planNoPv'],
    ],
    color: ['case', ['all', truthy('plan_pv'), truthy('plan_battery')], '#1a9641', truthy('plan_pv'), '#a6d96a', GREY],
  },
  smart_charging: {
    label: 'planSmartCharging',
    categories: [
      ['#3182bd', 'planSmartControlled'],
      ['#fdae6b', 'planSmartUncontrolled'],
      [GREY, 'planNoPoints'],
    ],
    color: ['case', ['<=', ['to-number', ['get', 'plan_charging_points'], 0], 0], GREY, truthy('plan_smart_charging'), '#3182bd', '#fdae6b'],
  },
};

export const euros = (value) => {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1e6) return `${formatNumber(value / 1e6, 1)} M€`;
  return `${formatNumber(value, 0)} €`;
};

const percent = (fraction, signed = false) =>
  Number.isFinite(fraction) ? `${signed && fraction > 0 ? '+' : ''}${formatNumber(fraction * 100, 1)} %`.replace('-', '−') : '–';

/** The form's state and the plans read from the API. */
export class PlanState {
  constructor() {
    this.plans = [];
    this.planId = null;
    this.targets = Object.fromEntries(TARGETS.map((x) => [x.key, { on: true, value: x.value }]));
    this.budget = 0;
    this.token = '';
    this.message = null; // { error: true|false, text }
    this.loadError = null; // the plans could not be read
    this.measure = 'heating';
  }

  plan(id = this.planId) {
    return this.plans.find((p) => p.id === id) || null;
  }

  pending() {
    return this.plans.some((p) => p.status === 'queued' || p.status === 'running');
  }

  /** The plans of the API (`GET api/energy/plans`); the chosen one kept, else the newest. */
  take(answer) {
    this.plans = answer.plans || [];
    if (!this.plan()) this.planId = this.plans[0]?.id ?? null;
  }

  body() {
    const targets = {};
    for (const { key } of TARGETS) if (this.targets[key].on) targets[key] = this.targets[key].value / 100;
    return { targets, budget_eur: Math.round((Number(this.budget) || 0) * 1e6) };
  }

  /** Submit the plan; the new plan's document, or an error thrown with the server's message. */
  async submit() {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (this.token.trim()) headers.Authorization = `Bearer ${this.token.trim()}`;
    const response = await fetch(apiUrl('api/energy/plans'), { method: 'POST', headers, body: JSON.stringify(this.body()) });
    let document;
    try {
      document = await response.json();
    } catch {
      document = {};
    }
    if (!response.ok) {
      const reason = document.message || document.description || document.detail || `${response.status}`;
      throw new Error(response.status === 401 || response.status === 403 ? t('planNotAllowed', { reason }) : reason);
    }
    this.plans = [document, ...this.plans.filter((p) => p.id !== document.id)];
    this.planId = document.id;
    return document;
  }
}

/** The form (built once and kept across renders, so what is being typed survives the polling). */
export function planForm(state, onSubmit) {
  const form = document.createElement('form');
  form.id = 'energy-plan-form';
  form.className = 'energy-plan-form';
  form.noValidate = true;
  const draw = () => {
    form.innerHTML = `
      <fieldset><legend>${esc(t('planTargets'))}</legend>
        ${TARGETS.map(({ key, label, min, max }) => {
          const target = state.targets[key];
          return `<div class="plan-target">
            <input type="checkbox" id="plan-on-${key}" ${target.on ? 'checked' : ''}>
            <label for="plan-on-${key}" class="visually-hidden">${esc(t('planInclude', { target: t(label) }))}</label>
            <label for="plan-${key}">${esc(t(label))}</label>
            <input type="range" id="plan-${key}" min="${min}" max="${max}" step="1" value="${target.value}" ${target.on ? '' : 'disabled'} aria-valuetext="${esc(percent(target.value / 100, true))}">
            <output id="plan-${key}-value" for="plan-${key}">${esc(percent(target.value / 100, true))}</output>
          </div>`;
        }).join('')}
      </fieldset>
      <label class="field"><span>${esc(t('planBudget'))}</span><input type="number" id="plan-budget" min="0" step="0.1" inputmode="decimal" value="${esc(String(state.budget))}"></label>
      <label class="field"><span>${esc(t('planToken'))}</span><input type="password" id="plan-token" autocomplete="off" value="${esc(state.token)}"></label>
      <button type="submit" id="plan-submit">${esc(t('planSubmit'))}</button>`;
  };
  draw();
  form.addEventListener('input', (event) => {
    const el = event.target;
    if (el.id === 'plan-budget') state.budget = el.value;
    else if (el.id === 'plan-token') state.token = el.value;
    else if (el.id.startsWith('plan-on-')) {
      const key = el.id.slice('plan-on-'.length);
      state.targets[key].on = el.checked;
      form.querySelector(`#plan-${key}`).disabled = !el.checked;
    } else if (el.type === 'range') {
      const key = el.id.slice('plan-'.length);
      state.targets[key].value = Number(el.value);
      const text = percent(Number(el.value) / 100, true);
      form.querySelector(`#plan-${key}-value`).textContent = text;
      el.setAttribute('aria-valuetext', text);
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onSubmit();
  });
  form.redraw = draw; // the language changed
  form.lang = document.documentElement.lang;
  return form;
}

/** The plans' status and the chosen plan's portfolio, as HTML. */
export function planResult(state) {
  const plans = state.plans;
  const parts = [];
  if (state.loadError) parts.push(`<p class="error">${esc(t('loadFailed', { what: state.loadError }))}</p>`);
  if (state.message) parts.push(`<p class="${state.message.error ? 'error' : 'muted'}" role="${state.message.error ? 'alert' : 'status'}">${esc(state.message.text)}</p>`);
  if (!plans.length) {
    parts.push(`<p class="muted">${esc(t('planNone'))}</p>`);
    return parts.join('');
  }
  const options = plans
    .map((p) => `<option value="${esc(p.id)}" ${p.id === state.planId ? 'selected' : ''}>${esc(planName(p))}${p.status === 'done' ? '' : ` (${esc(t(p.status))})`}</option>`)
    .join('');
  parts.push(`<label class="field"><span>${esc(t('planChoose'))}</span><select id="energy-plan">${options}</select></label>`);
  const plan = state.plan();
  if (!plan) return parts.join('');
  if (plan.status !== 'done') {
    const share = Number(plan.progress) || 0;
    parts.push(`<div class="plan-progress" data-plan-status="${esc(plan.id)}">
      <progress max="1" value="${share}" aria-label="${esc(`${t('planTitle')}: ${t(plan.status)}`)}"></progress>
      <span class="muted">${esc(t(plan.status))}${plan.status === 'running' ? ` ${formatNumber(share * 100, 0)} %` : ''}</span>
      ${plan.error ? `<p class="error">${esc(plan.error)}</p>` : `<p class="muted small">${esc(t('planWaiting'))}</p>`}</div>`);
    return parts.join('');
  }
  const folio = plan.portfolio;
  parts.push(`<p class="plan-verdict ${folio.met ? 'met' : 'not-met'}" data-testid="plan-verdict">${esc(folio.met ? t('planMet') : t('planMissed'))}</p>`);
  parts.push(`<dl class="facts plan-totals">
    <dt>${esc(t('planInvestment'))}</dt><dd data-testid="plan-investment">${esc(euros(folio.investment_eur))}</dd>
    <dt>${esc(t('planAnnualCost'))}</dt><dd>${esc(euros(folio.annual_cost_eur))} / a</dd>
    <dt>${esc(t('planBudgetShort'))}</dt><dd>${esc(folio.budget_eur ? euros(folio.budget_eur) : t('planNoLimit'))}</dd>
  </dl>`);
  const rows = folio.targets
    .map((x) => {
      const mark = x.met ? `<span class="met">✓</span> ${esc(t('met'))}` : `<span class="not-met">✗</span> ${esc(t('planMissedBy', { points: formatNumber(x.miss * 100, 1) }))}`;
      return `<tr><th scope="row">${esc(t(TARGETS.find((d) => d.key === x.target)?.label || x.target))}</th><td>${esc(percent(x.goal, true))}</td><td>${esc(percent(x.simulated, true))}</td><td>${mark}</td></tr>`;
    })
    .join('');
  parts.push(`<table class="attributes" data-testid="plan-targets"><caption class="visually-hidden">${esc(t('planTargets'))}</caption>
    <thead><tr><th scope="col">${esc(t('target'))}</th><th scope="col">${esc(t('planGoal'))}</th><th scope="col">${esc(t('planReached'))}</th><th scope="col">${esc(t('planVerdict'))}</th></tr></thead><tbody>${rows}</tbody></table>`);
  const binding = folio.binding.length ? folio.binding.map((b) => `<li>${esc(t(`planBinds_${b.key}`))}</li>`).join('') : `<li>${esc(t('planBindsNothing'))}</li>`;
  parts.push(`<h4>${esc(t('planBinding'))}</h4><ul class="plan-binding" data-testid="plan-binding">${binding}</ul>`);
  parts.push(`<h4>${esc(t('planMeasures'))}</h4>${measuresTable(folio)}`);
  const agreement = Math.max(...Object.values(folio.kpis).map((k) => Math.abs(Number(k.deviation) || 0)));
  parts.push(`<p class="muted small">${esc(t('planChecked', { deviation: formatNumber(agreement * 100, 1) }))}</p>`);
  const items = (plan.links || []).find((l) => l.rel === 'items');
  if (items) parts.push(`<p><a href="${esc(apiUrl(new URL(items.href, document.baseURI).pathname.replace(/^\//, '')))}" target="_blank" rel="noopener">${esc(t('planData'))}</a></p>`);
  return parts.join('');
}

function planName(plan) {
  const when = plan.created ? new Date(plan.created).toLocaleString(document.documentElement.lang === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' }) : '';
  const budget = plan.request?.budget_eur ? euros(plan.request.budget_eur) : t('planNoLimit');
  return `${when} · ${budget}`;
}

/** The text alternative of the map: every measure with its count and cost. */
export function measuresTable(folio) {
  const m = folio.measures || {};
  const c = folio.costs || {};
  const rows = [
    [t('planRefurbishmentUsual'), t('buildingsCount', { n: m.refurbished_usual || 0 }), null],
    [t('planRefurbishmentAdvanced'), t('buildingsCount', { n: m.refurbished_advanced || 0 }), null],
    [t('planRefurbishment'), t('buildingsCount', { n: (m.refurbished_usual || 0) + (m.refurbished_advanced || 0) }), c.refurbishment],
    [t('planHeatPump'), t('heatPumpsCount', { n: m.heat_pumps || 0 }), c.heat_pumps],
    [t('planDistrictHeating'), t('connectionsCount', { n: m.district_heating_connections || 0 }), c.district_heating],
    [t('planGasBoiler'), t('boilersCount', { n: m.gas_boilers_left || 0 }), null],
    [t('planPv'), `${t('roofsCount', { n: m.pv_buildings || 0 })} · ${formatNumber(m.pv_kwp || 0, 0)} kWp`, c.pv],
    [t('planBattery'), `${t('batteriesCount', { n: m.batteries || 0 })} · ${formatNumber(m.battery_kwh || 0, 0)} kWh`, c.batteries],
    [t('planQuarterBattery'), `${formatNumber(m.quarter_storage_kwh || 0, 0)} kWh`, c.quarter_storage],
    [t('planSmartCharging'), t('pointsCount', { n: m.smart_charging_points || 0 }), c.smart_charging],
  ];
  const body = rows.map(([label, count, cost]) => `<tr><th scope="row">${esc(label)}</th><td>${esc(count)}</td><td>${cost === null || cost === undefined ? '' : esc(euros(cost))}</td></tr>`).join('');
  return `<table class="attributes" data-testid="plan-measures"><caption class="visually-hidden">${esc(t('planMeasures'))}</caption>
    <thead><tr><th scope="col">${esc(t('planMeasure'))}</th><th scope="col">${esc(t('planCount'))}</th><th scope="col">${esc(t('planCost'))}</th></tr></thead>
    <tbody>${body}<tr><th scope="row">${esc(t('planInvestment'))}</th><td></td><td>${esc(euros(folio.investment_eur))}</td></tr></tbody></table>`;
}

/** The legend of the map's colours by measure. */
export function measureLegend(measure) {
  const spec = MEASURES[measure];
  const rows = spec.categories.map(([color, label]) => `<div class="legend-extra"><span class="swatch dot" style="background:${color}"></span>${esc(t(label))}</div>`).join('');
  return `<p class="legend-title">${esc(t(spec.label))} <span class="badge simulated">${esc(t('simulated'))}</span></p>${rows}`;
}

/** A building's measures and their costs (its properties in a plan's collection), as HTML. */
export function measureFacts(p) {
  const yes = (v) => v === true || v === 'true' || v === 1;
  const level = { 'as is': t('planNoMeasure'), usual: t('planRefurbishmentUsual'), advanced: t('planRefurbishmentAdvanced') };
  const heating = { gas: t('planGasBoiler'), heat_pump: t('planHeatPump'), district_heating: t('planDistrictHeating') };
  const pv = yes(p.plan_pv) ? (yes(p.plan_pv_new) ? t('planPvNew') : t('planPvExisting')) : t('planNoPv');
  const points = Number(p.plan_charging_points) || 0;
  const rows = [
    [t('planRefurbishment'), yes(p.plan_refurbishment_changed) ? level[p.plan_refurbishment] || p.plan_refurbishment : t('planNoMeasure'), p.plan_refurbishment_eur],
    [t('planHeating'), heating[p.plan_heating] || p.plan_heating, p.plan_heating_eur],
    [t('planPv'), pv, p.plan_pv_eur],
    [t('planBattery'), yes(p.plan_battery) ? t('yes') : t('no'), p.plan_battery_eur],
    [t('planSmartCharging'), points ? `${t('pointsCount', { n: points })} · ${yes(p.plan_smart_charging) ? t('planSmartControlled') : t('planSmartUncontrolled')}` : t('planNoPoints'), p.plan_smart_charging_eur],
  ];
  const body = rows.map(([label, what, cost]) => `<tr><th scope="row">${esc(label)}</th><td>${esc(what)}</td><td>${Number(cost) ? esc(euros(Number(cost))) : '–'}</td></tr>`).join('');
  return `<table class="attributes" data-testid="plan-building"><caption>${esc(t('planBuildingMeasures'))}</caption>
    <thead><tr><th scope="col">${esc(t('planMeasure'))}</th><th scope="col">${esc(t('planChoice'))}</th><th scope="col">${esc(t('planCost'))}</th></tr></thead>
    <tbody>${body}<tr><th scope="row">${esc(t('planInvestment'))}</th><td></td><td>${esc(euros(Number(p.plan_investment_eur) || 0))}</td></tr></tbody></table>`;
}
