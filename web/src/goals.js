// The goals page (Zielüberprüfung): every indicator of the city's registry (`api/indicators`,
// docs/indicators.md) with its definition, source and ISO code, its values per year as a chart, and
// per target the traffic light the server worked out, with its reason, in the reader's language.
// A page of its own (goals.html, served at /goals and linked from the viewer): no map to load.

import './goals.css';
import { getJSON } from './api.js';
import { timeChart } from './chart.js';
import './goals-strings.js';
import { formatNumber, initialLanguage, labelled, language, LANGUAGES, setCity, setLanguage, t } from './i18n.js';

const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const COLOURS = { green: '#1a9850', amber: '#f1a340', red: '#d73027', grey: '#9e9e9e' };
let answer = null;

/** One target: its light, what it asks, who set it, the reason and the progress. */
function targetHtml(target, unit, firstYear) {
  const asks = t(target.direction === 'at_most' ? 'goalsAtMost' : 'goalsAtLeast', {
    value: formatNumber(target.value, 2),
    unit,
    year: target.year,
  });
  const progress =
    typeof target.progress === 'number'
      ? `<p class="muted small">${esc(t('goalsProgress', { p: formatNumber(Math.max(0, target.progress) * 100, 0), year: target.baseline_year ?? firstYear }))}</p>`
      : '';
  return `<li class="goal-target" data-light="${esc(target.light)}" data-testid="goal-target">
      <span class="light light-${esc(target.light)}" style="background:${COLOURS[target.light] || COLOURS.grey}" aria-hidden="true"></span>
      <div>
        <p><strong data-testid="goal-light">${esc(labelled(target.light_label, target.light))}</strong> · ${esc(t('goalsTarget'))}: ${esc(asks)}</p>
        <p class="small">${esc(labelled(target.reason, ''))}</p>
        ${progress}
        <p class="muted small">${esc(t('goalsSetBy', { document: target.document }))}</p>
      </div>
    </li>`;
}

function indicatorHtml(indicator) {
  const values = indicator.values || [];
  const latest = indicator.latest
    ? `${formatNumber(indicator.latest.value, 3)} ${indicator.unit} (${indicator.latest.year})`
    : t('goalsNone');
  const firstYear = values.length ? values[0].year : null;
  const targets = indicator.targets?.length
    ? `<ul class="goal-targets">${indicator.targets.map((target) => targetHtml(target, indicator.unit, firstYear)).join('')}</ul>`
    : '';
  // Why an indicator shows no light: no value computed or entered yet, and/or no target set (none is invented).
  const why = [!values.length ? ['no-data', t('goalsNoData')] : null, !indicator.targets?.length ? ['no-target', t('goalsNoTarget')] : null].filter(Boolean);
  const status = why.map(([code, text]) => `<p class="goal-status small" data-testid="goal-status" data-status="${code}">${esc(text)}</p>`).join('');
  const how = labelled(answer.origins?.[indicator.method], indicator.method);
  const notes = (indicator.notes || []).map((note) => `<p class="muted small">${esc(labelled(note, ''))}</p>`).join('');
  const entered = values.filter((v) => v.origin === 'entered').slice(-1)[0];
  return `<article class="goal" id="goal-${esc(indicator.id)}" data-testid="goal">
      <h3>${esc(labelled(indicator.name, indicator.id))}</h3>
      <p class="small">${esc(labelled(indicator.definition, ''))}</p>
      <dl class="facts">
        <dt>${esc(t('goalsLatest'))}</dt><dd data-testid="goal-latest">${esc(latest)}</dd>
        <dt>${esc(t('goalsHow'))}</dt><dd>${esc(how)}${entered ? ` (${esc(t('goalsEntered', { who: entered.recorded_by }))})` : ''}</dd>
        <dt>${esc(t('goalsSource'))}</dt><dd>${esc(indicator.source)}</dd>
        ${indicator.iso ? `<dt>${esc(t('goalsIso'))}</dt><dd>${esc(indicator.iso)}</dd>` : ''}
      </dl>
      ${status}
      ${targets}
      ${values.length > 1 ? `<h4 class="chart-title">${esc(t('goalsValuesOverTime', { from: values[0].year, to: values[values.length - 1].year }))}</h4><figure class="chart-box"></figure>` : ''}
      ${notes}
    </article>`;
}

function render() {
  const list = document.getElementById('goals-list');
  const summary = document.getElementById('goals-summary');
  const indicators = answer?.indicators || [];
  if (!indicators.length) {
    list.innerHTML = `<p class="muted">${esc(t('goalsEmpty'))}</p>`;
    summary.textContent = '';
    return;
  }
  const lights = indicators.flatMap((i) => (i.targets || []).map((target) => target.light));
  const count = (light) => lights.filter((l) => l === light).length;
  const withoutData = indicators.filter((i) => !(i.values || []).length).length;
  const withoutTarget = indicators.filter((i) => !(i.targets || []).length).length;
  summary.textContent = [
    t('goalsIndicators', { n: indicators.length }),
    t('goalsMet', { n: count('green') }),
    t('goalsOnCourse', { n: count('amber') }),
    t('goalsOffCourse', { n: count('red') }),
    t('goalsNoValue', { n: count('grey') }),
  ].join(' · ');
  const without = [withoutData ? t('goalsWithoutData', { n: withoutData }) : null, withoutTarget ? t('goalsWithoutTarget', { n: withoutTarget }) : null].filter(Boolean);
  const reasons = document.getElementById('goals-reasons');
  if (reasons) reasons.textContent = without.join(' · ');
  list.innerHTML = indicators.map(indicatorHtml).join('');
  for (const indicator of indicators) {
    const values = indicator.values || [];
    const box = list.querySelector(`#goal-${CSS.escape(indicator.id)} .chart-box`);
    if (!box || values.length < 2) continue;
    const from = values[0].year;
    const to = values[values.length - 1].year;
    box.append(
      timeChart(
        values.map((v) => ({ x: Date.UTC(v.year, 6, 1), y: v.value, label: String(v.year) })),
        {
          unit: indicator.unit,
          xDomain: [Date.UTC(from, 0, 1), Date.UTC(to, 11, 31)],
          xFormat: (x) => String(new Date(x).getUTCFullYear()),
          summary: t('goalsValuesOverTime', { from, to }),
        },
      ),
    );
  }
}

function showLanguage(lang) {
  setLanguage(lang);
  const other = LANGUAGES.find((l) => l !== language()) || language();
  const button = document.getElementById('lang');
  button.textContent = other.toUpperCase();
  button.onclick = () => showLanguage(other);
  if (answer) render();
}

async function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('lang');
  showLanguage(initialLanguage(fromHash));
  const main = document.getElementById('goals');
  try {
    const config = await getJSON('api/viewer/config');
    setCity(config.city);
    document.getElementById('brand-city').textContent = config.city?.name || '';
    showLanguage(language());
    answer = await getJSON('api/indicators');
    render();
  } catch (error) {
    document.getElementById('goals-list').innerHTML = `<p class="error">${esc(t('goalsFailed', { what: error.message }))}</p>`;
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

start();
