// Build the viewer into the Python package (src/urbantwin/web/static), where `urbantwin serve` finds it.
// Relative asset URLs (base './') keep the viewer working behind a reverse proxy under a path prefix.
// A gzip copy of every asset is written beside it, so the server sends compressed files without
// compressing per request. `npm run dev` serves the source with the APIs proxied to a running server.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const OUT = '../src/urbantwin/web/static';
const API = process.env.URBANTWIN_URL || 'http://127.0.0.1:8000';

function gzipAssets() {
  return {
    name: 'gzip-assets',
    apply: 'build',
    closeBundle() {
      const walk = (dir) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) walk(path);
          else if (/\.(js|css|html|svg|json)$/.test(entry.name)) {
            writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
          }
        }
      };
      walk(OUT);
    },
  };
}

// The early requests (src/prefetch.js) must start before the viewer's module and its MapLibre have
// loaded, so they are a classic script at the end of the page; as a file of its own, not inline, so
// the page passes a Content-Security-Policy that allows scripts from this server only. Vite bundles
// module scripts only: this writes the file under a content-hashed name like every other asset (the
// server caches assets/ forever) and adds its <script> to the page.
function prefetchScript() {
  const source = fileURLToPath(new URL('./src/prefetch.js', import.meta.url));
  let fileName = '';
  return {
    name: 'prefetch-script',
    buildStart() {
      const hash = createHash('sha256').update(readFileSync(source)).digest('base64url').slice(0, 8);
      fileName = `assets/prefetch-${hash.replace(/[^A-Za-z0-9]/g, '0')}.js`;
    },
    transformIndexHtml(html, context) {
      // The viewer's page only: the goals and participation pages ask for none of the viewer's data.
      if (!(context.path || '').endsWith('/index.html') && context.path !== '/') return [];
      const src = context.server ? './src/prefetch.js' : `./${fileName}`;
      return [{ tag: 'script', attrs: { src }, injectTo: 'body' }];
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName, source: readFileSync(source) });
    },
  };
}

export default defineConfig({
  base: './',
  build: {
    outDir: OUT,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1200,
    // Four pages: the viewer, the goals page (goals.html, served at /goals), participation
    // (participate.html, at /participate: portfolio, ideas, procedures on the map, the Digitalcampus)
    // and one Digitalcampus event (event.html, at /participate/campus/events/<id>), each its own bundle.
    rollupOptions: { input: { index: 'index.html', goals: 'goals.html', participate: 'participate.html', event: 'event.html' } },
  },
  plugins: [prefetchScript(), gzipAssets()],
  server: {
    proxy: Object.fromEntries(['/v1.1', '/ogcapi', '/api', '/catalog'].map((p) => [p, API])),
  },
});
