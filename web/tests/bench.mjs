// The viewer's speed: time from navigation to the first render with all buildings (the map's first
// `idle` with every tile of the view drawn, window.__viewer.firstRender), with the server's tile
// cache cold (first load after start) and warm, and the frame rate and tile requests while panning.
//   node web/tests/bench.mjs [runs]        (a fresh demo on a free port; or URBANTWIN_VIEWER_URL=…)
// Results: bench/README.md, "The viewer".

import { demoServer, launch, openViewer } from './browser.mjs';

const runs = Number(process.argv[2] || 7);
const width = 1280;
const height = 800;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

// Rate limits off: the benchmark loads the viewer many times in a row from one address.
const server = await demoServer({ env: { URBANTWIN_RATE_LIMIT_PER_SECOND: '0' } });
const browser = await launch();
const loads = [];
try {
  for (let i = 0; i < runs; i++) {
    const { page, context, problems } = await openViewer(browser, server.url, { width, height });
    const result = await page.evaluate(() => ({
      firstRender: window.__viewer.firstRender,
      buildings: window.__viewer.renderedBuildings(),
      marks: Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, Math.round(m.startTime)])),
    }));
    if (problems.length) throw new Error(problems.join('\n'));
    loads.push(result);
    if (i === runs - 1) {
      // Panning: a steady pan across the model for 3 s; frames drawn and tiles asked meanwhile.
      let tiles = 0;
      page.on('request', (r) => /\/tiles\/WebMercatorQuad\/\d/.test(r.url()) && tiles++);
      const pan = await page.evaluate(
        () =>
          new Promise((resolve) => {
            const map = window.__viewer.map;
            let frames = 0;
            const count = () => frames++;
            map.on('render', count);
            const started = performance.now();
            const step = () => {
              const elapsed = performance.now() - started;
              if (elapsed > 3000) {
                map.off('render', count);
                resolve({ frames, seconds: elapsed / 1000 });
                return;
              }
              map.panBy([6, 2], { duration: 0 });
              requestAnimationFrame(step);
            };
            requestAnimationFrame(step);
          }),
      );
      loads.at(-1).pan = { fps: +(pan.frames / pan.seconds).toFixed(1), tiles };
      const renderer = await page.evaluate(() => {
        const gl = window.__viewer.map.painter.context.gl;
        const info = gl.getExtension('WEBGL_debug_renderer_info');
        return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
      });
      loads.at(-1).renderer = renderer;
    }
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}

const [cold, ...warm] = loads;
const ms = (v) => `${Math.round(v)} ms`;
console.log(`viewer first render, ${width}×${height}, ${runs} loads (Chromium headless, ${loads.at(-1).renderer})`);
console.log(`  cold tile cache (first load after the server started): ${ms(cold.firstRender)}, ${cold.buildings} buildings drawn`);
if (warm.length) {
  const values = warm.map((l) => l.firstRender);
  console.log(`  warm: median ${ms(median(values))}, min ${ms(Math.min(...values))}, max ${ms(Math.max(...values))}`);
  const m = (name) => ms(median(warm.map((l) => l.marks[name] ?? NaN)));
  console.log(`  warm median marks: script ran ${m('main')}, map created ${m('map-created')}, collections known ${m('collections')}, layers added ${m('layers-added')}`);
}
const pan = loads.at(-1).pan;
console.log(`  panning 3 s: ${pan.fps} frames/s, ${pan.tiles} tile requests`);
