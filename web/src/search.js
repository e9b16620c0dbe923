// Search by name, address or district: the sensors on the map are searched here, the collections on the
// server (a CQL2 `LIKE` over each collection's name- and street-like properties, from its queryables),
// so a city with a million buildings is searched as fast as the demo. A combobox with a listbox,
// usable with the arrow keys, Enter and Escape.

import { getJSON, quoted } from './api.js';
import { t } from './i18n.js';
import { esc } from './ui.js';

const SEARCHABLE = /(^|[:_])(name|stop_name|street|strasse|adresse|address)$/i;
const PER_COLLECTION = 5;

export class Search {
  constructor({ input, list, collections, sensors, onPick }) {
    this.input = input;
    this.list = list;
    this.collections = [...collections].sort((a, b) => (a.count ?? 0) - (b.count ?? 0));
    this.sensors = sensors;
    this.onPick = onPick;
    this.fields = null;
    this.results = [];
    this.active = -1;
    input.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(input.value.trim()), 220);
    });
    input.addEventListener('focus', () => this.prepare());
    input.addEventListener('keydown', (event) => this.key(event));
    input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  /** Which properties each collection is searched by (from its queryables, fetched once). */
  prepare() {
    if (!this.fields) {
      this.fields = Promise.all(
        this.collections.map(async (c) => {
          try {
            const q = await getJSON(`ogcapi/collections/${encodeURIComponent(c.id)}/queryables`);
            const names = Object.entries(q.properties || {})
              .filter(([name, spec]) => spec.type === 'string' && SEARCHABLE.test(name))
              .map(([name]) => name);
            return [c.id, { names, housenumber: 'addr:housenumber' in (q.properties || {}) }];
          } catch {
            return [c.id, { names: [] }];
          }
        }),
      ).then((pairs) => new Map(pairs));
    }
    return this.fields;
  }

  async run(term) {
    this.abort?.abort();
    if (term.length < 2) return this.close();
    const abort = (this.abort = new AbortController());
    this.show([{ kind: 'note', text: t('searching') }]);
    const fields = await this.prepare();
    const needle = term.toLowerCase();
    const sensors = [...this.sensors.features.values()]
      .filter((f) => `${f.properties.name} ${f.properties.thing}`.toLowerCase().includes(needle))
      .slice(0, PER_COLLECTION)
      .map((f) => ({ kind: 'sensor', id: f.properties.datastreamId, label: f.properties.name, group: t('sensors') }));
    const found = await Promise.all(
      this.collections.map(async (c) => {
        const filter = cqlFilter(term, fields.get(c.id));
        if (!filter) return [];
        try {
          const page = await getJSON(`ogcapi/collections/${encodeURIComponent(c.id)}/items`, {
            signal: abort.signal,
            params: { filter, 'filter-lang': 'cql2-text', limit: PER_COLLECTION },
          });
          return page.features.map((feature) => ({ kind: 'feature', collection: c, feature, label: label(feature, fields.get(c.id)), group: c.title }));
        } catch (error) {
          if (error.name !== 'AbortError') console.warn(`search in ${c.id} failed`, error);
          return [];
        }
      }),
    );
    if (abort.signal.aborted) return;
    const results = [...found.flat(), ...sensors];
    this.show(results.length ? results : [{ kind: 'note', text: t('searchNothing') }]);
  }

  show(results) {
    this.results = results;
    this.active = -1;
    let group = null;
    const items = [];
    results.forEach((r, i) => {
      if (r.kind === 'note') {
        items.push(`<li class="search-note" role="presentation">${esc(r.text)}</li>`);
        return;
      }
      if (r.group !== group) {
        group = r.group;
        items.push(`<li class="search-group" role="presentation">${esc(group)}</li>`);
      }
      items.push(`<li role="option" id="search-${i}" data-index="${i}" aria-selected="false">${esc(r.label)}</li>`);
    });
    this.list.innerHTML = items.join('');
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    for (const li of this.list.querySelectorAll('[role=option]')) {
      li.addEventListener('mousedown', (event) => {
        event.preventDefault();
        this.pick(Number(li.dataset.index));
      });
    }
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  key(event) {
    const options = this.results.map((r, i) => (r.kind === 'note' ? -1 : i)).filter((i) => i >= 0);
    if (event.key === 'Escape') {
      this.close();
      return;
    }
    if (!options.length || this.list.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const at = options.indexOf(this.active);
      const next = event.key === 'ArrowDown' ? Math.min(at + 1, options.length - 1) : Math.max(at - 1, 0);
      this.highlight(options[next]);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      this.pick(this.active >= 0 ? this.active : options[0]);
    }
  }

  highlight(index) {
    this.active = index;
    for (const li of this.list.querySelectorAll('[role=option]')) {
      const on = Number(li.dataset.index) === index;
      li.setAttribute('aria-selected', String(on));
      if (on) li.scrollIntoView({ block: 'nearest' });
    }
    this.input.setAttribute('aria-activedescendant', `search-${index}`);
  }

  pick(index) {
    const result = this.results[index];
    if (!result || result.kind === 'note') return;
    this.close();
    this.input.value = result.label;
    this.onPick(result);
  }
}

/** The CQL2 text filter for a term: any searchable property contains it (case-insensitive). */
export function cqlFilter(term, fields) {
  if (!fields?.names.length) return null;
  const like = (name, text) => `CASEI("${name}") LIKE CASEI(${quoted(`%${text.replace(/[%_\\]/g, ' ').trim()}%`)})`;
  const anyField = fields.names.map((n) => like(n, term)).join(' OR ');
  // "Karl-Heine-Straße 50": the street and the house number, where buildings have addresses.
  const address = term.match(/^(.*\D)\s+(\d+\s*[a-z]?)$/i);
  if (address && fields.housenumber && fields.names.includes('addr:street')) {
    const number = address[2].replace(/\s+/g, '');
    return `(${anyField}) OR (${like('addr:street', address[1].trim())} AND "addr:housenumber" LIKE ${quoted(`${number}%`)})`;
  }
  return anyField;
}

/** A feature's name as people read it: its name, else its address, else the first searched property. */
export function label(feature, fields) {
  const p = feature.properties || {};
  if (p['addr:street']) return [p.name, `${p['addr:street']} ${p['addr:housenumber'] || ''}`.trim()].filter(Boolean).join(', ');
  const name = fields?.names.find((n) => /name$/i.test(n) && p[n]);
  if (name) return String(p[name]);
  // Found by a street: many features share it, the id tells them apart.
  const street = fields?.names.map((n) => p[n]).find(Boolean);
  return street ? `${street} (${feature.id})` : String(feature.id);
}
