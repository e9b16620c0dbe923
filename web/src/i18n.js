// German and English texts of the viewer. The language comes from the permalink, then the user's last
// choice, then the browser; the data's own titles (collections, sensors) are shown as published, but
// for the labels an ObservedProperty carries per language (`properties.labels`, see `labelled`).
//
// A text that counts something has its plural forms, by the categories of Intl.PluralRules for the
// language (`{one: '{n} sensor', other: '{n} sensors'}`): `t(key, {n})` takes the form for the
// number n and shows n formatted in the language. tests/web/test_i18n.py checks that every key the
// page and the code use has a text in each language, and that every count has its forms.

export const STRINGS = {
  en: {
    skipToMap: 'Skip to the map',
    layers: 'Layers',
    search: 'Search',
    searchPlaceholder: 'Search places, addresses, sensors…',
    searchNothing: 'Nothing found',
    searching: 'Searching…',
    copyLink: 'Copy a link to this view',
    linkCopied: 'Link to this view copied',
    linkReady: 'The address bar holds the link to this view',
    switchLanguage: 'Switch the language to German',
    loading: 'Loading…',
    loadFailed: 'Could not load: {what}',
    districts: 'Districts',
    mapLabel: 'Map of the city',
    close: 'Close',
    time: 'Time',
    live: 'Live',
    play: 'Play the history',
    pause: 'Pause',
    timeSlider: 'Time shown on the map',
    liveNow: 'Latest values',
    liveViaPush: 'live (push)',
    liveViaPoll: 'live (every {s} s)',
    sensors: 'Sensors',
    cityLayers: 'City layers',
    sensorsCount: { one: '{n} sensor', other: '{n} sensors' },
    noValue: 'no value at this time',
    noData: 'no data',
    heightUnknown: 'height unknown',
    height: 'Height',
    heightEstimated: 'Height, estimated',
    area: 'Area',
    population: 'Residents',
    density: 'Residents per km²',
    change: 'Change since {year}',
    statistic: 'Statistic',
    statNone: 'None',
    areaLevel: 'Areas',
    year: 'Year',
    yearFollowsTime: 'The year follows the time slider.',
    districtProfile: 'District profile',
    districtFigures: 'Figures from the platform’s data',
    nearStop: 'Residents within {radius} m of a stop',
    platformFigures: 'Figures from the platform’s data',
    statTreesPerResident: 'Street trees per resident',
    statChargingPer1000: 'Charging points per 1,000 residents',
    statAccess300: 'Residents within 300 m of a stop (%)',
    statGfz: 'Floor-area ratio (GFZ)',
    current: 'now',
    asOfInputs: 'The data as of {year}:',
    landUse: 'Land use',
    landUseBlocks: 'Blocks by floor-area ratio (GFZ)',
    landUseInfill: 'Infill candidates',
    landUseBlocksShown: { one: '{n} block shown', other: '{n} blocks shown' },
    landUseInfillShown: { one: '{n} candidate shown', other: '{n} candidates shown' },
    landUseGrid: '(the city has no blocks of its own: {m} m grid cells)',
    infillRank: 'Rank',
    infillCandidate: 'Infill candidate no. {rank}',
    infillCaveat: 'A ranking for a first look: it knows nothing of plans, ownership or use.',
    compareWith: 'Compare with',
    populationOverTime: 'Residents {from}–{to}',
    sensor: 'Sensor',
    feature: 'Feature',
    lastDay: 'Day',
    lastWeek: 'Week',
    lastYear: 'Year',
    chartWindow: 'Chart period',
    chartEmpty: 'No observations in this period.',
    mean: 'mean',
    minMax: 'min–max',
    latest: 'Latest value',
    at: 'at',
    observedProperty: 'Observed property',
    thing: 'Thing',
    dataLink: 'All observations (SensorThings API)',
    featureLink: 'This feature (OGC API Features)',
    source: 'Source',
    licence: 'Licence',
    noLayers: 'No layers published.',
    showLegend: 'Legend',
    zoomTo: 'Zoom to the layer',
    buildingsRendered: { one: '{n} building in view', other: '{n} buildings in view' },
    homeView: 'Back to the whole city model',
    energyView: 'Energy quarter',
    transitView: 'Public transport',
    infrastructureView: 'Infrastructure',
    airView: 'Clean air',
    listSensors: 'List the sensors',
    sensorMean: 'Mean of {name}',
    sensorMeanLatest: 'Mean of the latest value of each sensor inside the district.',
    sensorMeanAt: 'Mean of each sensor’s last value within {hours} h up to the time shown.',
    noSensors: 'no sensors',
    sensorsInDistricts: '{sensors} {inDistricts}',
    inDistricts: { one: 'in {n} district', other: 'in {n} districts' },
    sensorsHere: 'Sensors in the district',
    buildingsWithSensors: {
      one: '{n} building with sensors inside takes the colour of their mean.',
      other: '{n} buildings with sensors inside take the colour of their mean.',
    },
    sensorsInBuilding: 'Sensors in the building',
    linkSta: 'SensorThings API',
    linkOgc: 'OGC API',
    linkCatalog: 'Data catalogue',
    linkDocs: 'API documentation',
  },
  de: {
    skipToMap: 'Zur Karte springen',
    layers: 'Ebenen',
    search: 'Suche',
    searchPlaceholder: 'Orte, Adressen, Sensoren suchen…',
    searchNothing: 'Nichts gefunden',
    searching: 'Suche läuft…',
    copyLink: 'Link zu dieser Ansicht kopieren',
    linkCopied: 'Link zu dieser Ansicht kopiert',
    linkReady: 'Die Adresszeile enthält den Link zu dieser Ansicht',
    switchLanguage: 'Sprache auf Englisch umstellen',
    loading: 'Wird geladen…',
    loadFailed: 'Konnte nicht geladen werden: {what}',
    districts: 'Stadtgebiete',
    mapLabel: 'Karte der Stadt',
    close: 'Schließen',
    time: 'Zeit',
    live: 'Live',
    play: 'Verlauf abspielen',
    pause: 'Anhalten',
    timeSlider: 'Auf der Karte gezeigte Zeit',
    liveNow: 'Aktuelle Werte',
    liveViaPush: 'live (Push)',
    liveViaPoll: 'live (alle {s} s)',
    sensors: 'Sensoren',
    cityLayers: 'Stadtebenen',
    sensorsCount: { one: '{n} Sensor', other: '{n} Sensoren' },
    noValue: 'kein Wert zu dieser Zeit',
    noData: 'keine Angabe',
    heightUnknown: 'Höhe unbekannt',
    height: 'Höhe',
    heightEstimated: 'Höhe, geschätzt',
    area: 'Fläche',
    population: 'Einwohner',
    density: 'Einwohner je km²',
    change: 'Veränderung seit {year}',
    statistic: 'Kennzahl',
    statNone: 'Keine',
    areaLevel: 'Gebiete',
    year: 'Jahr',
    yearFollowsTime: 'Das Jahr folgt dem Zeitregler.',
    districtProfile: 'Gebietsprofil',
    districtFigures: 'Kennzahlen aus den Daten der Plattform',
    nearStop: 'Einwohner im Umkreis von {radius} m einer Haltestelle',
    platformFigures: 'Kennzahlen aus den Daten der Plattform',
    statTreesPerResident: 'Straßenbäume je Einwohner',
    statChargingPer1000: 'Ladepunkte je 1.000 Einwohner',
    statAccess300: 'Einwohner im 300-m-Umkreis einer Haltestelle (%)',
    statGfz: 'Geschossflächenzahl (GFZ)',
    current: 'aktuell',
    asOfInputs: 'Die Daten, Stand {year}:',
    landUse: 'Flächennutzung',
    landUseBlocks: 'Blöcke nach Geschossflächenzahl (GFZ)',
    landUseInfill: 'Potenziale der Nachverdichtung',
    landUseBlocksShown: { one: '{n} Block gezeigt', other: '{n} Blöcke gezeigt' },
    landUseInfillShown: { one: '{n} Potenzialfläche gezeigt', other: '{n} Potenzialflächen gezeigt' },
    landUseGrid: '(die Stadt hat keine eigenen Blöcke: Rasterzellen von {m} m)',
    infillRank: 'Rang',
    infillCandidate: 'Potenzialfläche Nr. {rank}',
    infillCaveat: 'Eine Reihung für den ersten Blick: Pläne, Eigentum und Nutzung kennt sie nicht.',
    compareWith: 'Vergleichen mit',
    populationOverTime: 'Einwohner {from}–{to}',
    sensor: 'Sensor',
    feature: 'Objekt',
    lastDay: 'Tag',
    lastWeek: 'Woche',
    lastYear: 'Jahr',
    chartWindow: 'Zeitraum des Diagramms',
    chartEmpty: 'Keine Beobachtungen in diesem Zeitraum.',
    mean: 'Mittel',
    minMax: 'Min–Max',
    latest: 'Letzter Wert',
    at: 'am',
    observedProperty: 'Messgröße',
    thing: 'Messstelle',
    dataLink: 'Alle Beobachtungen (SensorThings API)',
    featureLink: 'Dieses Objekt (OGC API Features)',
    source: 'Quelle',
    licence: 'Lizenz',
    noLayers: 'Keine Ebenen veröffentlicht.',
    showLegend: 'Legende',
    zoomTo: 'Auf die Ebene zoomen',
    buildingsRendered: { one: '{n} Gebäude sichtbar', other: '{n} Gebäude sichtbar' },
    homeView: 'Zurück zum ganzen Stadtmodell',
    energyView: 'Energiequartier',
    transitView: 'Nahverkehr',
    infrastructureView: 'Infrastruktur',
    airView: 'Saubere Luft',
    listSensors: 'Sensoren auflisten',
    sensorMean: 'Mittel von {name}',
    sensorMeanLatest: 'Mittel des letzten Werts jedes Sensors im Gebiet.',
    sensorMeanAt: 'Mittel des letzten Werts jedes Sensors binnen {hours} h bis zur gezeigten Zeit.',
    noSensors: 'keine Sensoren',
    sensorsInDistricts: '{sensors} {inDistricts}',
    inDistricts: { one: 'in {n} Gebiet', other: 'in {n} Gebieten' },
    sensorsHere: 'Sensoren im Gebiet',
    buildingsWithSensors: {
      one: '{n} Gebäude mit Sensoren darin trägt die Farbe ihres Mittels.',
      other: '{n} Gebäude mit Sensoren darin tragen die Farbe ihres Mittels.',
    },
    sensorsInBuilding: 'Sensoren im Gebäude',
    linkSta: 'SensorThings API',
    linkOgc: 'OGC API',
    linkCatalog: 'Datenkatalog',
    linkDocs: 'API-Dokumentation',
  },
};

export const LANGUAGES = Object.keys(STRINGS);

/** Add the texts of a part of the viewer loaded later (energy.js): `{en: {...}, de: {...}}`. */
export function addStrings(table) {
  for (const [lang, texts] of Object.entries(table)) if (STRINGS[lang]) Object.assign(STRINGS[lang], texts);
}
const STORAGE_KEY = 'urbantwin.lang';
let current = 'en';
/** `lang:key` of every text asked for that its language lacks (shown in English, or as the key). */
const missing = new Set();

/** The language to start in: the permalink's, else the last choice, else the browser's. */
export function initialLanguage(fromHash) {
  const stored = safeStorage()?.getItem(STORAGE_KEY);
  const browser = (navigator.languages || [navigator.language || 'en']).map((l) => l.slice(0, 2).toLowerCase());
  return [fromHash, stored, ...browser].find((l) => LANGUAGES.includes(l)) || 'en';
}

export function language() {
  return current;
}

const LOCALES = { de: 'de-DE', en: 'en-GB' };
const localeOf = (lang) => LOCALES[lang] || lang;
const pluralRules = new Map();

/** The plural category (Intl.PluralRules: one, other, …) of the number n in a language. */
export function pluralCategory(lang, n) {
  if (!pluralRules.has(lang)) pluralRules.set(lang, new Intl.PluralRules(localeOf(lang)));
  return pluralRules.get(lang).select(n);
}

/**
 * A text in `lang`, `{name}` filled from vars. A text with plural forms takes the form for the number
 * `vars.n`, which it shows formatted in the language (1,234 / 1.234).
 */
export function translate(lang, key, vars = {}) {
  const own = STRINGS[lang]?.[key];
  if (own === undefined) missing.add(`${lang}:${key}`);
  const textLang = own !== undefined ? lang : 'en';
  let text = own ?? STRINGS.en[key] ?? key;
  if (typeof text === 'object') {
    const n = Number(vars.n);
    text = text[pluralCategory(textLang, n)] ?? text.other;
    vars = { ...vars, n: Number.isFinite(n) ? new Intl.NumberFormat(localeOf(lang)).format(n) : vars.n };
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** A text in the current language (see `translate`). */
export function t(key, vars = {}) {
  return translate(current, key, vars);
}

/** The texts asked for that a language lacks, as `lang:key` (for the tests: none may be). */
export function missingTexts() {
  return [...missing].sort();
}

/** The name of something the data label per language (`properties.labels`, e.g. an ObservedProperty's),
 * in the current language (or `lang`); else its own name. */
export function labelled(labels, name, lang = current) {
  const label = labels && typeof labels === 'object' ? labels[lang] : undefined;
  return typeof label === 'string' && label.trim() ? label : name;
}

/** Switch the language and re-label the static page (elements marked with data-i18n*). */
export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : 'en';
  document.documentElement.lang = current;
  safeStorage()?.setItem(STORAGE_KEY, current);
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    if (el.tagName === 'BUTTON') el.title = t(el.dataset.i18nLabel);
  }
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}

function safeStorage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled (private mode, sandboxed frame): the choice is not remembered
  }
}

// --- formatting in the city's time zone and the user's language ------------------------------------

/** The city's time zone (its profile's, from `api/viewer/config`): times are shown as its clocks read.
 * Until then, and without a profile, the platform's default (`city_profile.DEFAULT_TIME_ZONE`). */
let zone = 'Europe/Berlin';
export const timeZone = () => zone;

/** Take the city's profile: its time zone, and the languages it offers (of those the viewer speaks). */
export function setCity(city) {
  if (city?.timeZone) zone = city.timeZone;
  const offered = (city?.languages || []).filter((l) => STRINGS[l]);
  if (offered.length) LANGUAGES.splice(0, LANGUAGES.length, ...offered);
}

const locale = () => localeOf(current);

export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const abs = Math.abs(value);
  const fraction = abs >= 100 || Number.isInteger(value) ? 0 : digits;
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: fraction }).format(value);
}

export function formatTime(ms, precision = 'minute') {
  const options = { timeZone: zone, year: 'numeric', month: 'short', day: 'numeric' };
  if (precision === 'year') return new Intl.DateTimeFormat(locale(), { timeZone: zone, year: 'numeric' }).format(ms);
  if (precision === 'month') {
    return new Intl.DateTimeFormat(locale(), { timeZone: zone, year: 'numeric', month: 'short' }).format(ms);
  }
  if (precision !== 'day') Object.assign(options, { hour: '2-digit', minute: '2-digit' });
  return new Intl.DateTimeFormat(locale(), options).format(ms);
}

/** A short axis label for a time, its detail chosen by the span the axis covers. */
export function formatTick(ms, spanMs) {
  const day = 86400e3;
  let options;
  if (spanMs <= 2 * day) options = { hour: '2-digit', minute: '2-digit' };
  else if (spanMs <= 60 * day) options = { day: 'numeric', month: 'short' };
  else if (spanMs <= 3 * 365 * day) options = { month: 'short', year: '2-digit' };
  else options = { year: 'numeric' };
  return new Intl.DateTimeFormat(locale(), { timeZone: zone, ...options }).format(ms);
}

/** A unit of measurement as people read it (UCUM annotations such as `{clients}` lose their braces). */
export function unitText(unit) {
  if (!unit) return '';
  const symbol = unit.symbol || unit.name || '';
  return symbol.replace(/^\{(.*)\}$/, '$1');
}
