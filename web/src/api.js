// The platform's APIs as the viewer reads them. Every URL is relative to the page, so the viewer works
// under a path prefix behind a reverse proxy; nothing is ever requested from another server (unless an
// operator configures an external base-map style).

/** The absolute URL of a path of this platform (MapLibre needs absolute tile URLs). */
export function apiUrl(path) {
  return new URL(path, document.baseURI).href;
}

let pending = 0;
const listeners = new Set();

/** Be told how many API requests are under way (for the loading bar). */
export function onPending(listener) {
  listeners.add(listener);
}

function track(delta) {
  pending += delta;
  for (const listener of listeners) listener(pending);
}

export class ApiError extends Error {
  constructor(status, url, message) {
    super(message || `${status} ${url}`);
    this.status = status;
    this.url = url;
  }
}

/** GET a JSON document; errors carry the server's message (the platform names the problem). */
export async function getJSON(path, { signal, params } = {}) {
  const url = new URL(apiUrl(path));
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null) url.searchParams.set(key, value);
  }
  track(1);
  try {
    // A request index.html started early is used once (see its inline script).
    const early = !params && window.__prefetch?.[path];
    if (early) delete window.__prefetch[path];
    const response = await (early || fetch(url, { signal, headers: { Accept: 'application/json' } }));
    if (!response.ok) {
      let message;
      try {
        const body = await response.json();
        message = body.message || body.description || body.detail;
      } catch {
        /* not JSON: keep the status line */
      }
      throw new ApiError(response.status, url.pathname, message);
    }
    return await response.json();
  } finally {
    track(-1);
  }
}

/** Every page of a SensorThings collection (following @iot.nextLink), up to `limit` entities. */
export async function getAllSta(path, params, { limit = 50000, signal } = {}) {
  const out = [];
  let page = await getJSON(path, { params, signal });
  for (;;) {
    out.push(...page.value);
    const next = page['@iot.nextLink'];
    if (!next || out.length >= limit) return out;
    // The server's nextLink is absolute to its public address; keep only the path and query.
    const link = new URL(next);
    page = await getJSON(relative(link), { signal });
  }
}

/** The path and query of a link of this platform, relative to the page. */
export function relative(link) {
  const here = new URL(document.baseURI);
  const path = link.pathname.startsWith(here.pathname) ? link.pathname.slice(here.pathname.length) : link.pathname.replace(/^\//, '');
  return path + link.search;
}

/** Quote a string for a SensorThings `$filter` or a CQL2 text literal. */
export function quoted(text) {
  return `'${String(text).replace(/'/g, "''")}'`;
}
