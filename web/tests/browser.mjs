// Shared by the browser tests and the benchmark: Debian's Chromium driven by playwright-core (no
// browser download), with WebGL in software (SwiftShader) so MapLibre draws in a headless machine,
// and a demo server started on a free port unless URBANTWIN_VIEWER_URL names a running one.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.URBANTWIN_CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--no-sandbox', '--disable-dev-shm-usage'],
  });
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * The server to test: URBANTWIN_VIEWER_URL (with URBANTWIN_ADMIN_TOKEN) when given, else a fresh
 * `urbantwin demo` on a free port in a temporary folder (with the settings in `env`), stopped by `close()`.
 */
export async function demoServer({ env = {} } = {}) {
  if (process.env.URBANTWIN_VIEWER_URL) {
    return { url: process.env.URBANTWIN_VIEWER_URL.replace(/\/?$/, '/'), token: process.env.URBANTWIN_ADMIN_TOKEN || '', close: async () => {} };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'urbantwin-viewer-'));
  const token = `viewer-test-${process.pid}`;
  const venv = join(ROOT, '.venv/bin/urbantwin');
  const command = existsSync(venv) ? venv : 'urbantwin';
  const child = spawn(command, ['demo', '--port', String(port), '--data-dir', dir], {
    env: { ...process.env, URBANTWIN_ADMIN_TOKEN: token, URBANTWIN_LOG_LEVEL: 'warning', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 120e3;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the demo server ended (${child.exitCode}):\n${stderr}`);
    try {
      if ((await fetch(`${url}api/viewer/config`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`the demo server did not answer within 120 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    token,
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Record every violation of the server's Content-Security-Policy on the page as a problem (the
 * browser's `securitypolicyviolation` event, which also catches what it blocks without a console line).
 */
export async function watchContentSecurityPolicy(page, problems) {
  await page.exposeFunction('__cspViolation', (text) => problems.push(`content security policy: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolation(`${e.effectiveDirective} refused ${e.blockedURI || 'inline'} at ${e.sourceFile || 'the page'}:${e.lineNumber}`);
    });
  });
}

/** A page that records console errors, page errors, failed requests and requests to other hosts. */
export async function openViewer(browser, url, { width = 1280, height = 800, hash = '', locale = 'en-GB' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = [];
  const origin = new URL(url).origin;
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const reason = r.failure()?.errorText || '';
    if (!/ERR_ABORTED/.test(reason)) problems.push(`request failed: ${r.url()} ${reason}`);
  });
  page.on('request', (r) => {
    const target = r.url();
    if (!target.startsWith(origin) && !/^(data|blob):/.test(target)) problems.push(`external request: ${target}`);
  });
  await watchContentSecurityPolicy(page, problems);
  const started = Date.now();
  await page.goto(url + hash);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', null, { timeout: 60e3 });
  try {
    await page.waitForFunction(() => document.body.dataset.firstRender, null, { timeout: 90e3 });
  } catch (error) {
    // Say what the map still waits for (tiles by source and state), to tell a slow server from a bug.
    const state = await page.evaluate(() => {
      const map = window.__viewer?.map;
      if (!map) return 'no map';
      const caches = Object.values(map.style?.tileManagers || map.style?.sourceCaches || {});
      const waiting = caches.map((c) => [c.id, Object.values(c._tiles || {}).filter((t) => !['loaded', 'errored'].includes(t.state)).map((t) => `${t.tileID?.canonical?.z}/${t.tileID?.canonical?.x}/${t.tileID?.canonical?.y}:${t.state}`)]);
      return JSON.stringify({ loaded: map.loaded(), tiles: map.areTilesLoaded(), moving: map.isMoving(), waiting: waiting.filter(([, t]) => t.length) });
    }).catch((e) => String(e));
    error.message += `\nthe map's state: ${state}\nproblems: ${problems.join('; ')}`;
    throw error;
  }
  return { context, page, problems, started };
}
