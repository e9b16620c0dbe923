// The permalink: the view (zoom/lat/lon/bearing/pitch), the layers shown, the time, the district
// statistic and the language live in the URL's hash, so a copied link restores exactly this view.
//   #map=15.20/51.33310/12.33150/-17.0/55.0&layers=buildings,op:8&time=2014-10-15T12:00:00Z&stat=density

const KEEP = /[,/:]/g; // left readable in the hash

export function readHash(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const out = { view: null, layers: null, time: null, stat: null, areas: null, lang: params.get('lang') };
  const map = params.get('map')?.split('/').map(Number);
  if (map && map.length >= 3 && map.slice(0, 3).every(Number.isFinite)) {
    const [zoom, lat, lng, bearing = 0, pitch = 0] = map;
    out.view = { zoom, center: [lng, lat], bearing: bearing || 0, pitch: pitch || 0 };
  }
  if (params.has('layers')) out.layers = params.get('layers').split(',').filter(Boolean);
  const time = Date.parse(params.get('time') || '');
  if (Number.isFinite(time)) out.time = time;
  out.stat = params.get('stat');
  out.areas = params.get('areas');
  return out;
}

export function formatHash({ view, layers, time, stat, areas, lang }) {
  const parts = [];
  if (view) {
    const [lng, lat] = view.center;
    parts.push(`map=${view.zoom.toFixed(2)}/${lat.toFixed(5)}/${lng.toFixed(5)}/${view.bearing.toFixed(1)}/${view.pitch.toFixed(1)}`);
  }
  if (layers) parts.push(`layers=${layers.map(encode).join(',')}`);
  if (time !== null && time !== undefined) parts.push(`time=${new Date(time).toISOString().replace('.000Z', 'Z')}`);
  if (stat && stat !== 'none') parts.push(`stat=${encode(stat)}`);
  if (areas) parts.push(`areas=${encode(areas)}`);
  if (lang) parts.push(`lang=${encode(lang)}`);
  return `#${parts.join('&')}`;
}

/** Replace the hash without a new history entry (moving the map is not navigation). */
export function writeHash(state) {
  const hash = formatHash(state);
  if (hash !== location.hash) history.replaceState(history.state, '', hash);
}

function encode(text) {
  return encodeURIComponent(text).replace(/%2C|%2F|%3A/gi, (m) => decodeURIComponent(m)).replace(KEEP, (m) => m);
}
