// The participation page: the project portfolio with its funding, ideas (send, read the public ones
// with the department's answers), procedures on the map (the area and the published contributions
// on a MapLibre map, and the same as a list — the map's text alternative; a point, a line or an area
// marked by clicks on the map or by typed coordinates, point after point; comments on published
// contributions), and moderation (ideas, contributions, comments) for holders of a moderator's token. Every text is in German and English
// (participation-strings.js); everything works with the keyboard.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import './participate.css';
import { formatNumber, initialLanguage, language, LANGUAGES, setLanguage, t } from './i18n.js';
import './participation-strings.js';

const $ = (id) => document.getElementById(id);
const state = { token: '', vocabulary: null, procedures: [], procedure: null, map: null, place: null, shape: 'Point', vertices: [] };
/** The fewest points of each shape drawn point after point. */
const LEAST = { LineString: 2, Polygon: 3 };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function api(path, { method = 'GET', body, auth = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(data?.message || `${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

const label = (labels) => (labels && (labels[language()] || labels.en)) || '';
const euros = (amount) =>
  new Intl.NumberFormat(language() === 'de' ? 'de-DE' : 'en-GB', { style: 'currency', currency: 'EUR', maximumFractionDigits: 0 }).format(amount);

// --- portfolio ---------------------------------------------------------------------------------

async function showPortfolio() {
  const [{ projects }, funding] = await Promise.all([api('api/portfolio/projects'), api('api/portfolio/funding')]);
  const figures = [
    ['total', 'pTotal'],
    ['eu', 'pEu'],
    ['consortium', 'pConsortium'],
    ['city', 'pCity'],
  ];
  const head = el('tr', {}, el('th', { scope: 'col', text: t('pFunder') }), ...figures.map(([, key]) => el('th', { scope: 'col', text: t(key) })));
  const rows = funding.programmes
    .filter((p) => p.funder || p.programme)
    .map((p) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, el('span', { text: [p.funder, p.programme].filter(Boolean).join(': ') }), el('br'),
          el('span', { class: 'muted small', text: t('pProjects', { n: p.projects.length }) })),
        ...figures.map(([figure]) => {
          const value = p[figure];
          if (value.sum === null) return el('td', { class: 'muted', text: t('pNoFigure') });
          const amount = value.approximate ? t('pAbout', { amount: euros(value.sum) }) : euros(value.sum);
          return el('td', {}, el('span', { text: amount }), el('br'), el('span', { class: 'muted small', text: t('pFiguresGiven', { n: value.projects_with_figure }) }));
        }),
      ),
    );
  $('funding').replaceChildren(el('table', { class: 'data' }, el('caption', { class: 'visually-hidden', text: t('pFunding') }), el('thead', {}, head), el('tbody', {}, ...rows)));
  $('projects').replaceChildren(
    ...projects.map((project) => {
      const facts = el('dl', { class: 'facts' });
      const fact = (key, value) => value && facts.append(el('dt', { text: t(key) }), el('dd', { text: value }));
      fact('pStatus', t(`pStatus_${project.status}`));
      fact('pFunder', [project.funder, project.programme].filter(Boolean).join(': '));
      const money = figures
        .filter(([figure]) => project.funding[figure] !== null && project.funding[figure] !== undefined)
        .map(([figure, key]) => `${t(key)}: ${project.funding.approximate.includes(figure) ? t('pAbout', { amount: euros(project.funding[figure]) }) : euros(project.funding[figure])}`);
      fact('pFunding', money.join(' · '));
      fact('pPartners', project.partners.map((p) => (p.role ? `${p.name} (${p.role})` : p.name)).join('; '));
      fact('pArea', label(project.area?.description) || project.area?.districts?.join(', '));
      fact('pContactMailbox', project.contact);
      return el('li', { class: 'card', 'data-project': project.id }, el('h3', { text: label(project.title) }), el('p', { text: label(project.summary) }), facts);
    }),
  );
}

// --- ideas ---------------------------------------------------------------------------------------

function fillCategories() {
  const select = $('idea-category');
  const chosen = select.value;
  select.replaceChildren(...Object.entries(state.vocabulary.categories).map(([code, labels]) => el('option', { value: code, text: label(labels) })));
  if (chosen) select.value = chosen;
}

function ideaItem(idea, moderating = false) {
  const item = el('li', { class: 'card', 'data-idea': idea.id },
    el('h4', { text: idea.title }),
    el('p', { class: 'badge', text: `${label(idea.status_label)} · ${label(idea.category_label)}` }),
    el('p', { text: idea.text }));
  if (idea.project) item.append(el('p', { text: t('pBecameProject', { project: idea.project }) }));
  if (idea.reason) item.append(el('p', {}, el('strong', { text: `${t('pReason')}: ` }), idea.reason));
  if (idea.answer) item.append(el('p', {}, el('strong', { text: `${t('pAnswer')}: ` }), idea.answer));
  if (moderating && idea.contact) item.append(el('p', { class: 'muted small', text: t('pContactSeen', { contact: idea.contact }) }));
  return item;
}

async function showIdeas() {
  const { ideas } = await api('api/participation/ideas');
  const shown = ideas.filter((idea) => idea.status !== 'received');
  $('idea-list').replaceChildren(...(shown.length ? shown.map((idea) => ideaItem(idea)) : [el('li', { class: 'muted', text: t('pNoIdeas') })]));
}

async function sendIdea(event) {
  event.preventDefault();
  const form = event.target;
  const body = {
    title: form.title.value,
    text: form.text.value,
    category: form.category.value,
    contact: form.contact.value || null,
  };
  if (form.website.value) body.website = form.website.value;
  try {
    await api('api/participation/ideas', { method: 'POST', body });
    form.reset();
    $('idea-status').textContent = t('pSent');
  } catch (error) {
    $('idea-status').textContent = t('pSendFailed', { reason: error.message });
  }
}

// --- procedures on the map -------------------------------------------------------------------------

function placeText(geometry) {
  if (geometry.type === 'Point') {
    const [lon, lat] = geometry.coordinates;
    return t('pPoint', { lon: formatNumber(lon, 5), lat: formatNumber(lat, 5) });
  }
  return t(geometry.type === 'LineString' ? 'pLine' : 'pPolygon');
}

async function showProcedures() {
  const { procedures } = await api('api/participation/procedures');
  state.procedures = procedures;
  const select = $('procedure-select');
  const chosen = select.value;
  select.replaceChildren(...procedures.map((p) => el('option', { value: p.id, text: p.title })));
  const none = !procedures.length;
  select.disabled = none;
  $('contribution-form').hidden = none;
  $('procedure-map').hidden = none;
  if (none) {
    $('procedure-info').textContent = t('pNoProcedures');
    $('contribution-list').replaceChildren();
    return;
  }
  if (chosen && procedures.some((p) => p.id === chosen)) select.value = chosen;
  await showProcedure(select.value);
}

async function showProcedure(ident) {
  const procedure = state.procedures.find((p) => p.id === ident);
  state.procedure = procedure;
  const when = t('pWindow', { start: new Date(procedure.start).toLocaleDateString(language()), end: new Date(procedure.end).toLocaleDateString(language()) });
  const info = [procedure.description, `${when} (${t(`pPhase_${procedure.phase}`)})`];
  if (procedure.synthetic) info.push(t('pSynthetic'));
  $('procedure-info').textContent = info.filter(Boolean).join(' · ');
  const base = `api/participation/procedures/${encodeURIComponent(ident)}`;
  $('procedure-results').replaceChildren(
    ...(procedure.phase === 'closed'
      ? [
          el('a', { href: `${base}/results.geojson`, text: t('pResultsGeojson') }), ' · ',
          el('a', { href: `${base}/results.csv`, text: t('pResultsCsv') }), ' · ',
          el('a', { href: `${base}/statistics`, text: t('pStatistics') }),
        ]
      : []),
  );
  $('procedure-statistics').replaceChildren();
  $('procedure-statistics').hidden = procedure.phase !== 'closed';
  if (procedure.phase === 'closed') showStatistics(base).catch((error) => ($('procedure-statistics').textContent = error.message));
  $('contribution-category').replaceChildren(...procedure.categories.map((c) => el('option', { value: c, text: c })));
  $('contribution-form').hidden = procedure.phase !== 'open';
  const collection = await api(`api/participation/procedures/${encodeURIComponent(ident)}/contributions`);
  $('contribution-list').replaceChildren(
    ...(collection.features.length
      ? collection.features.map((f) => {
          const item = el('li', { class: 'card', 'data-contribution': f.id },
            el('p', { class: 'badge', text: `${f.properties.category} · ${t('pPlace', { what: placeText(f.geometry) })}` }),
            el('p', { text: f.properties.text }),
            el('p', { class: 'muted small', text: t('pSupports', { n: f.properties.supports }) }));
          if (f.properties.answer) item.append(el('p', {}, el('strong', { text: `${t('pAnswer')}: ` }), f.properties.answer));
          item.append(commentsOf(f, procedure.phase === 'open'));
          if (procedure.phase === 'open') {
            const support = el('button', { type: 'button', 'data-action': 'support', text: t('pSupport') });
            support.addEventListener('click', async () => {
              try {
                const done = await api(`api/participation/contributions/${f.id}/supports`, { method: 'POST' });
                item.querySelector('.muted.small').textContent = t('pSupports', { n: done.supports });
                support.disabled = true;
              } catch (error) {
                $('contribution-status').textContent = t('pSendFailed', { reason: error.message });
              }
            });
            item.append(el('div', { class: 'actions' }, support));
          }
          return item;
        })
      : [el('li', { class: 'muted', text: t('pNoContributions') })]),
  );
  drawMap(procedure, collection);
}

/** The published comments of a contribution, and while the procedure is open a form to add one. */
function commentsOf(feature, open) {
  const all = feature.properties.comments || [];
  const comments = all.filter((c) => c.status === 'published');
  const part = el('div', { class: 'comment-part' },
    el('p', { class: 'muted small', text: t('pComments', { n: comments.length }) }));
  if (comments.length) part.append(el('ul', { class: 'comments' }, ...comments.map((c) => el('li', { 'data-comment': c.id, text: c.text }))));
  // A declined comment leaves its public reason in its place (never its text).
  for (const c of all.filter((c) => c.status === 'declined' && c.reason)) {
    part.append(el('p', { class: 'muted small', 'data-declined-comment': c.id, text: t('pCommentDeclined', { reason: c.reason }) }));
  }
  if (!open) return part;
  const id = `comment-${feature.id}`;
  const text = el('textarea', { id, rows: '2', maxlength: '2000', required: 'required' });
  const status = el('p', { class: 'status small', role: 'status' });
  const form = el('form', { class: 'form', 'data-comment-form': feature.id, novalidate: 'novalidate' },
    el('label', { for: id, text: t('pCommentLabel') }), text,
    el('button', { type: 'submit', text: t('pCommentSend') }), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api(`api/participation/contributions/${feature.id}/comments`, { method: 'POST', body: { text: text.value } });
      text.value = '';
      status.textContent = t('pCommentSent');
    } catch (error) {
      status.textContent = t('pSendFailed', { reason: error.message });
    }
  });
  part.append(form);
  return part;
}

function drawMap(procedure, collection) {
  const area = { type: 'Feature', geometry: procedure.area, properties: {} };
  const coordinates = (procedure.area.type === 'Polygon' ? [procedure.area.coordinates] : procedure.area.coordinates).flat(2);
  const bounds = coordinates.reduce((b, c) => b.extend(c), new maplibregl.LngLatBounds(coordinates[0], coordinates[0]));
  const place = draft();
  if (!state.map) {
    state.map = new maplibregl.Map({
      container: 'procedure-map',
      style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }] },
      bounds,
      fitBoundsOptions: { padding: 20 },
      attributionControl: false,
    });
    state.map.getCanvas().setAttribute('tabindex', '-1'); // the list and the coordinate fields serve the keyboard
    state.map.on('load', () => {
      state.map.addSource('area', { type: 'geojson', data: area });
      state.map.addSource('contributions', { type: 'geojson', data: collection });
      state.map.addSource('place', { type: 'geojson', data: place });
      state.map.addLayer({ id: 'area', type: 'line', source: 'area', paint: { 'line-color': '#1a56a0', 'line-width': 2 } });
      state.map.addLayer({ id: 'c-fill', type: 'fill', source: 'contributions', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#0b7f86', 'fill-opacity': 0.3 } });
      state.map.addLayer({ id: 'c-line', type: 'line', source: 'contributions', paint: { 'line-color': '#0b7f86', 'line-width': 3 } });
      state.map.addLayer({ id: 'c-point', type: 'circle', source: 'contributions', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': '#0b7f86', 'circle-radius': 6 } });
      state.map.addLayer({ id: 'place-fill', type: 'fill', source: 'place', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#b7410e', 'fill-opacity': 0.2 } });
      state.map.addLayer({ id: 'place-line', type: 'line', source: 'place', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#b7410e', 'line-width': 3, 'line-dasharray': [2, 1] } });
      state.map.addLayer({ id: 'place', type: 'circle', source: 'place', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': '#b7410e', 'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
      $('procedure-map').dataset.loaded = 'true';
    });
    state.map.on('click', (event) => choosePlace([event.lngLat.lng, event.lngLat.lat]));
    return;
  }
  const update = () => {
    state.map.getSource('area')?.setData(area);
    state.map.getSource('contributions')?.setData(collection);
    state.map.fitBounds(bounds, { padding: 20, animate: false });
  };
  if (state.map.isStyleLoaded()) update();
  else state.map.once('load', update);
}

/** The statistics of a closed procedure's published contributions, as a table on the page. */
async function showStatistics(base) {
  const stats = await api(`${base}/statistics`);
  const rows = [
    [t('pStatsContributions'), label(stats.contributions_label)],
    [t('pStatsSupports'), label(stats.supports_label)],
    [t('pStatsComments'), formatNumber(stats.comments)],
    ...Object.entries(stats.by_category).map(([category, n]) => [t('pStatsCategory', { category }), formatNumber(n)]),
    ...stats.procedure.questions.map((question, i) => [t('pStatsQuestion', { question }), formatNumber(stats.by_question[String(i)] || 0)]),
  ];
  $('procedure-statistics').replaceChildren(
    el('table', { class: 'data' }, el('caption', { text: t('pStatistics') }),
      el('tbody', {}, ...rows.map(([name, value]) => el('tr', {}, el('th', { scope: 'row', text: name }), el('td', { text: value }))))),
  );
}

/** A place chosen on the map: the point, or the next point of a line or an area. */
function choosePlace(lonlat) {
  $('contribution-lon').value = lonlat[0].toFixed(6);
  $('contribution-lat').value = lonlat[1].toFixed(6);
  if (state.shape === 'Point') state.place = lonlat;
  else state.vertices.push(lonlat);
  showDraft();
}

/** What is marked so far, as GeoJSON for the map: the point, or the points with their line or area. */
function draft() {
  const feature = (geometry) => ({ type: 'Feature', geometry, properties: {} });
  if (state.shape === 'Point') return { type: 'FeatureCollection', features: state.place ? [feature({ type: 'Point', coordinates: state.place })] : [] };
  const features = state.vertices.map((v) => feature({ type: 'Point', coordinates: v }));
  if (state.shape === 'Polygon' && state.vertices.length >= 3) features.push(feature({ type: 'Polygon', coordinates: [[...state.vertices, state.vertices[0]]] }));
  else if (state.vertices.length >= 2) features.push(feature({ type: 'LineString', coordinates: state.vertices }));
  return { type: 'FeatureCollection', features };
}

/** The marked shape on the map and, as its text alternative, the list of its points. */
function showDraft() {
  state.map?.getSource('place')?.setData(draft());
  const drawn = state.shape !== 'Point';
  $('vertex-tools').hidden = !drawn;
  $('place-hint').textContent = t({ Point: 'pPlaceHint', LineString: 'pPlaceHintLine', Polygon: 'pPlaceHintArea' }[state.shape]);
  if (!drawn) return;
  $('vertex-list').replaceChildren(
    ...state.vertices.map(([lon, lat], i) => el('li', { text: t('pVertexItem', { i: i + 1, lon: formatNumber(lon, 5), lat: formatNumber(lat, 5) }) })),
  );
  const count = t('pVertexCount', { n: state.vertices.length });
  const short = state.vertices.length < LEAST[state.shape];
  $('vertex-status').textContent = short ? `${count} · ${t(state.shape === 'Polygon' ? 'pAreaNeeds' : 'pLineNeeds')}` : count;
}

function setShape(shape) {
  state.shape = shape;
  showDraft();
}

/** The typed coordinates as the next point of a line or an area (the keyboard's way to draw). */
function addTypedVertex() {
  const lon = Number($('contribution-lon').value.replace(',', '.'));
  const lat = Number($('contribution-lat').value.replace(',', '.'));
  if (!$('contribution-lon').value || !$('contribution-lat').value || !Number.isFinite(lon) || !Number.isFinite(lat)) {
    $('vertex-status').textContent = t('pSendFailed', { reason: t('pPlaceMissing') });
    $('contribution-lon').focus();
    return;
  }
  state.vertices.push([lon, lat]);
  showDraft();
  $('contribution-lon').focus();
}

/** The geometry of the contribution, or null with the status saying what is missing. */
function contributionGeometry() {
  if (state.shape !== 'Point') {
    if (state.vertices.length < LEAST[state.shape]) {
      $('contribution-status').textContent = t('pSendFailed', { reason: t(state.shape === 'Polygon' ? 'pAreaNeeds' : 'pLineNeeds') });
      return null;
    }
    const coordinates = state.shape === 'Polygon' ? [[...state.vertices, state.vertices[0]]] : [...state.vertices];
    return { type: state.shape, coordinates };
  }
  const lon = Number($('contribution-lon').value.replace(',', '.'));
  const lat = Number($('contribution-lat').value.replace(',', '.'));
  if (!$('contribution-lon').value || !$('contribution-lat').value || !Number.isFinite(lon) || !Number.isFinite(lat)) {
    $('contribution-status').textContent = t('pSendFailed', { reason: t('pPlaceMissing') });
    return null;
  }
  return { type: 'Point', coordinates: [lon, lat] };
}

async function sendContribution(event) {
  event.preventDefault();
  const geometry = contributionGeometry();
  if (!geometry) return;
  const body = {
    category: $('contribution-category').value,
    text: $('contribution-text').value,
    geometry,
    contact: $('contribution-contact').value || null,
  };
  try {
    await api(`api/participation/procedures/${encodeURIComponent(state.procedure.id)}/contributions`, { method: 'POST', body });
    event.target.reset();
    state.place = null;
    state.vertices = [];
    setShape('Point');
    $('contribution-status').textContent = t('pSent');
  } catch (error) {
    $('contribution-status').textContent = t('pSendFailed', { reason: error.message });
  }
}

// --- Digitalcampus --------------------------------------------------------------------------------

const CAMPUS = {
  format: ['workshop', 'talk', 'course', 'festival', 'hackathon', 'exhibition', 'meetup', 'online'],
  age: ['children', 'youth', 'adults', 'seniors'],
  experience: ['beginner', 'intermediate', 'expert'],
};

function fillCampusFilters() {
  for (const [name, values] of Object.entries(CAMPUS)) {
    const select = $(`campus-${name}`);
    const chosen = select.value;
    const prefix = { format: 'pFormat_', age: 'pAge_', experience: 'pExperience_' }[name];
    select.replaceChildren(el('option', { value: '', text: t('pAll') }), ...values.map((v) => el('option', { value: v, text: t(`${prefix}${v}`) })));
    select.value = chosen;
  }
}

function campusQuery() {
  const params = new URLSearchParams();
  if ($('campus-q').value.trim()) params.set('q', $('campus-q').value.trim());
  for (const name of Object.keys(CAMPUS)) if ($(`campus-${name}`).value) params.set(name, $(`campus-${name}`).value);
  return params;
}

async function showCampus() {
  const params = campusQuery();
  const { events } = await api(`api/campus/events?${params}`);
  const ics = new URLSearchParams(params);
  ics.set('lang', language());
  $('campus-ics').href = `api/campus/events.ics?${ics}`;
  const when = (event) => {
    if (!event.start) return t('pAnyTime');
    const options = { dateStyle: 'medium', timeStyle: 'short' };
    const start = new Date(event.start).toLocaleString(language(), options);
    return event.end ? `${start} – ${new Date(event.end).toLocaleString(language(), options)}` : start;
  };
  $('campus-list').replaceChildren(
    ...(events.length
      ? events.map((event) => {
          const facts = el('dl', { class: 'facts' });
          const fact = (key, value) => value && facts.append(el('dt', { text: t(key) }), el('dd', { text: value }));
          fact('pWhen', when(event));
          fact('pWhere', [event.place?.name, event.place?.address, event.place?.online].filter(Boolean).join(', '));
          fact('pFormat', t(`pFormat_${event.format}`));
          fact('pAudience', [...event.ages.map((a) => t(`pAge_${a}`)), ...event.experience.map((x) => t(`pExperience_${x}`))].join(', '));
          fact('pOrganiser', event.organiser);
          const links = el('p', { class: 'actions' });
          if (event.start) links.append(el('a', { href: `api/campus/events/${encodeURIComponent(event.id)}/ics?lang=${language()}`, text: t('pEventCalendar') }));
          if (event.registration) links.append(' · ', el('a', { href: event.registration, rel: 'noopener', text: t('pRegister') }));
          const page = `participate/campus/events/${encodeURIComponent(event.id)}`;
          const item = el('li', { class: 'card', id: `event-${event.id}`, 'data-event': event.id },
            el('h3', {}, el('a', { href: page, 'data-event-page': event.id, text: label(event.title) })), el('p', { text: label(event.description) }), facts, links);
          if (event.synthetic) item.append(el('p', { class: 'muted small', text: t('pSyntheticEvent') }));
          return item;
        })
      : [el('li', { class: 'muted', text: t('pNoEvents') })]),
  );
}

// --- moderation ------------------------------------------------------------------------------------

async function showQueue() {
  if (!state.token) return;
  let ideas;
  try {
    ideas = await api('api/participation/ideas?status=received', { auth: true });
  } catch (error) {
    $('moderation-status').textContent = error.status === 401 || error.status === 403 ? t('pNotModerator') : error.message;
    return;
  }
  if (!ideas.moderator) {
    $('moderation-status').textContent = t('pNotModerator');
    $('queue').replaceChildren();
    return;
  }
  const waiting = [];
  for (const idea of ideas.ideas) waiting.push(queueItem('idea', idea.id, ideaItem(idea, true)));
  for (const procedure of state.procedures) {
    const collection = await api(`api/participation/procedures/${encodeURIComponent(procedure.id)}/contributions?status=received`, { auth: true });
    for (const f of collection.features) {
      const card = el('div', {},
        el('h4', { text: `${t('pContribution')} · ${procedure.title}` }),
        el('p', { class: 'badge', text: `${f.properties.category} · ${t('pPlace', { what: placeText(f.geometry) })}` }),
        el('p', { text: f.properties.text }));
      if (f.properties.contact) card.append(el('p', { class: 'muted small', text: t('pContactSeen', { contact: f.properties.contact }) }));
      waiting.push(queueItem('contribution', f.id, card));
    }
    // Comments wait on published contributions (a moderator is shown every comment, with its status).
    const published = await api(`api/participation/procedures/${encodeURIComponent(procedure.id)}/contributions?status=published`, { auth: true });
    for (const f of published.features) {
      for (const comment of (f.properties.comments || []).filter((c) => c.status === 'received')) {
        const card = el('div', {},
          el('h4', { text: `${t('pComment')} · ${procedure.title}` }),
          el('p', { class: 'muted small', text: t('pCommentOn', { text: f.properties.text }) }),
          el('p', { text: comment.text }));
        waiting.push(queueItem('comment', comment.id, card, f.id));
      }
    }
  }
  $('moderation-status').textContent = waiting.length ? t('pQueue', { n: waiting.length }) : t('pQueueEmpty');
  $('queue').replaceChildren(...waiting);
}

/** A card of the moderation queue: an idea, a contribution or a comment (of the contribution
 * `parent`); each is declined with a public reason; comments get no answer. */
function queueItem(kind, id, content, parent = null) {
  const prefix = `${kind}-${id}`;
  const comment = kind === 'comment';
  const answer = el('textarea', { id: `${prefix}-answer`, rows: '2' });
  const reason = el('input', { id: `${prefix}-reason` });
  const accept = el('button', { type: 'button', class: 'primary', 'data-action': 'accept', text: t('pAccept') });
  const decline = el('button', { type: 'button', 'data-action': 'decline', text: t('pDecline') });
  // Declining publishes an idea with its text: spam and abuse are hidden instead (moderators only).
  const hide = kind === 'idea' ? [el('button', { type: 'button', 'data-action': 'hide', text: t('pHide') })] : [];
  const reasonFields = [el('label', { for: `${prefix}-reason`, text: t('pReasonLabel') }), reason];
  const fields = comment ? reasonFields : [el('label', { for: `${prefix}-answer`, text: t('pAnswerLabel') }), answer, ...reasonFields];
  const item = el('li', { class: 'card', [`data-${kind}`]: id }, content, ...fields, el('div', { class: 'actions' }, accept, decline, ...hide));
  const moderate = async (status) => {
    const body = { status: kind === 'idea' ? { accept: 'in_review', decline: 'declined', hide: 'hidden' }[status] : status === 'accept' ? 'published' : 'declined' };
    if (answer.value.trim() && status !== 'hide') body.answer = answer.value.trim();
    if (status === 'decline') {
      if (!reason.value.trim()) {
        $('moderation-status').textContent = t('pSendFailed', { reason: t('pReasonNeeded') });
        reason.focus();
        return;
      }
      body.reason = reason.value.trim();
    }
    const path = {
      idea: `api/participation/ideas/${id}/moderation`,
      contribution: `api/participation/contributions/${id}/moderation`,
      comment: `api/participation/contributions/${parent}/comments/${id}/moderation`,
    }[kind];
    try {
      await api(path, { method: 'POST', body, auth: true });
      $('moderation-status').textContent = t('pDone', { what: `${t({ idea: 'pIdea', contribution: 'pContribution', comment: 'pComment' }[kind])} ${id}` });
      item.remove();
      await Promise.all([showIdeas(), state.procedure ? showProcedure(state.procedure.id) : null]);
    } catch (error) {
      $('moderation-status').textContent = t('pSendFailed', { reason: error.message });
    }
  };
  accept.addEventListener('click', () => moderate('accept'));
  decline.addEventListener('click', () => moderate('decline'));
  for (const button of hide) button.addEventListener('click', () => moderate('hide'));
  return item;
}

// --- the page --------------------------------------------------------------------------------------

async function render() {
  fillCategories();
  fillCampusFilters();
  showDraft();
  await Promise.all([showPortfolio(), showIdeas(), showProcedures(), showCampus()]);
  await showQueue();
}

async function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('lang');
  setLanguage(initialLanguage(fromHash));
  const langButton = $('lang');
  const labelLanguage = () => (langButton.textContent = (LANGUAGES.find((l) => l !== language()) || 'en').toUpperCase());
  labelLanguage();
  langButton.addEventListener('click', async () => {
    setLanguage(LANGUAGES.find((l) => l !== language()) || 'en');
    labelLanguage();
    await render();
  });
  state.vocabulary = await api('api/participation/vocabulary');
  $('idea-form').addEventListener('submit', sendIdea);
  $('contribution-form').addEventListener('submit', sendContribution);
  $('campus-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    showCampus();
  });
  $('procedure-select').addEventListener('change', (event) => showProcedure(event.target.value));
  for (const radio of document.querySelectorAll('input[name=shape]')) radio.addEventListener('change', () => radio.checked && setShape(radio.value));
  $('vertex-add').addEventListener('click', addTypedVertex);
  $('vertex-undo').addEventListener('click', () => (state.vertices.pop(), showDraft()));
  $('vertex-clear').addEventListener('click', () => ((state.vertices = []), showDraft()));
  $('contribution-lon').addEventListener('change', () => syncPlace());
  $('contribution-lat').addEventListener('change', () => syncPlace());
  $('token-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    state.token = $('token').value.trim();
    await showQueue();
  });
  await render();
  document.body.dataset.ready = 'true';
}

function syncPlace() {
  const lon = Number($('contribution-lon').value.replace(',', '.'));
  const lat = Number($('contribution-lat').value.replace(',', '.'));
  // Typed coordinates are the point itself; of a line or an area, the next point once added.
  if (state.shape === 'Point' && Number.isFinite(lon) && Number.isFinite(lat) && $('contribution-lon').value && $('contribution-lat').value) choosePlace([lon, lat]);
}

start().catch((error) => {
  document.body.dataset.ready = 'error';
  $('main').prepend(el('p', { class: 'error', role: 'alert', text: error.message }));
});
