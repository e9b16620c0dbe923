// Build the viewer into the Python package (src/urbantwin/web/static), where `urbantwin serve` finds it.
// Relative asset URLs (base './') keep the viewer working behind a reverse proxy under a path prefix.
// A gzip copy of every asset is written beside it, so the server sends compressed files without
// compressing per request. `npm run dev` serves the source with the APIs proxied to a running server.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

export default defineConfig({
  base: './',
  build: {
    outDir: OUT,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1200,
  },
  plugins: [gzipAssets()],
  server: {
    proxy: Object.fromEntries(['/v1.1', '/ogcapi', '/api', '/catalog'].map((p) => [p, API])),
  },
});
