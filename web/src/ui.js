// The parts of the page around the map: the information panel (attributes, sensor chart, district
// profile), the status line and the loading bar.

import { onPending } from './api.js';

const info = document.getElementById('info');
const infoKind = document.getElementById('info-kind');
const infoTitle = document.getElementById('info-title');
const infoBody = document.getElementById('info-body');
let onClose = null;
let returnFocus = null;

export const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Show the panel with a kind line, a title and content; `closed` runs when it is closed. */
export function openPanel({ kind, title, body, closed, panel }) {
  if (onClose) onClose();
  onClose = closed || null;
  returnFocus = document.activeElement instanceof HTMLElement && !info.contains(document.activeElement) ? document.activeElement : null;
  infoKind.textContent = kind || '';
  infoTitle.textContent = title || '';
  infoBody.replaceChildren(...(Array.isArray(body) ? body : [body]));
  info.dataset.panel = panel || '';
  info.hidden = false;
  info.focus({ preventScroll: true });
  return infoBody;
}

export function closePanel() {
  if (info.hidden) return;
  info.hidden = true;
  info.dataset.panel = '';
  if (onClose) onClose();
  onClose = null;
  if (returnFocus?.isConnected) returnFocus.focus({ preventScroll: true });
}

export function panelShown(panel) {
  return !info.hidden && info.dataset.panel === panel;
}

document.getElementById('info-close').addEventListener('click', closePanel);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !info.hidden) closePanel();
});

/** An element from HTML text. */
export function html(text) {
  const template = document.createElement('template');
  template.innerHTML = text.trim();
  return template.content.firstElementChild;
}

/** A table of a feature's attributes (scalars; long JSON left out, empty values skipped). */
export function attributeTable(properties, skip = () => false) {
  const rows = Object.entries(properties || {})
    .filter(([key, value]) => value !== null && value !== undefined && value !== '' && !skip(key))
    .map(([key, value]) => {
      let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
      if (text.length > 300) text = `${text.slice(0, 300)}…`;
      return `<tr><th scope="row">${esc(key)}</th><td>${esc(text)}</td></tr>`;
    });
  return html(`<table class="attributes"><tbody>${rows.join('')}</tbody></table>`);
}

const status = document.getElementById('status');
let statusTimer = 0;

/** A short message over the map (read out by screen readers). */
export function say(message, ms = 3500) {
  status.textContent = message;
  status.classList.toggle('shown', Boolean(message));
  clearTimeout(statusTimer);
  if (ms) statusTimer = setTimeout(() => status.classList.remove('shown'), ms);
}

const progress = document.getElementById('progress');
let mapBusy = false;
let apiBusy = false;
const showProgress = () => (progress.hidden = !(mapBusy || apiBusy));
onPending((n) => {
  apiBusy = n > 0;
  showProgress();
});

/** Show the loading bar while the map loads tiles. */
export function setMapBusy(busy) {
  mapBusy = busy;
  showProgress();
}
