// Ask for what the viewer reads first while its script (MapLibre) is still loading: the
// configuration, the collections and one feature of each (see describeCollections).
// A classic script of its own, run at the end of the page before the viewer's module, rather than
// inline: the server's Content-Security-Policy allows scripts from files of this server only.
(() => {
  const get = (path) => fetch(path, { headers: { Accept: 'application/json' } });
  const early = (window.__prefetch = { 'api/viewer/config': get('api/viewer/config'), 'ogcapi/collections': get('ogcapi/collections') });
  window.__probes = early['ogcapi/collections']
    .then((response) => (response.ok ? response.clone().json() : { collections: [] }))
    // The energy quarter's collections (energy-*) are not layers of the tree: not probed.
    .then((doc) => Object.fromEntries(doc.collections.filter((c) => !/^energy-/.test(c.id)).map((c) => [c.id, get(`ogcapi/collections/${encodeURIComponent(c.id)}/items?limit=1`)])))
    .catch(() => ({}));
})();
