// Side views: a panel beside the map (energy, public transport, digital infrastructure, clean air)
// that a button of the map opens, one at a time. A view draws layers of its own and changes no
// other layer, so closing it leaves the map as it was. `SideView` is what every view shares: opening
// and closing, the panel's frame (title, close button, Escape), and taking its layers off the map;
// `SideViews` is the buttons' side: each loads its view's code the first time it is pressed, closes
// the other views, and shows whether its view is open (aria-pressed).

import { html } from './ui.js';

const CLOSE_ICON =
  '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6 6.4 5Z"/></svg>';

const classes = (...names) => [...new Set(names)].join(' ');

export class SideView {
  /**
   * `name` names the view's parts: the panel #name, its title #name-title, .name-close, .name-body,
   * and the class name-open of the page while it is open. `badge`, if given, is the test id of a
   * "simulated" badge above the title (a view of model results).
   */
  constructor(map, name, { beforeId, onClose, badge } = {}) {
    this.map = map;
    this.name = name;
    this.beforeId = beforeId;
    this.onClose = onClose || (() => {});
    this.badge = badge;
    this.isOpen = false;
  }

  async open() {
    if (!this.panel) this.createPanel();
    this.panel.hidden = false;
    this.isOpen = true;
    document.body.classList.add(`${this.name}-open`);
    await this.opened();
    this.panel.querySelector('h2')?.focus({ preventScroll: true });
  }

  /** What the view does once its panel shows: draws what it has, then loads the rest. */
  async opened() {
    this.render();
    await this.load();
  }

  close() {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.panel.hidden = true;
    document.body.classList.remove(`${this.name}-open`);
    this.restoreMap();
    this.onClose();
  }

  /** Leave the map as it was before the view opened (a view that moves the camera puts it back too). */
  restoreMap() {
    this.removeLayers();
  }

  /** The view's layers and sources off the map (those it has drawn). */
  removeFromMap(layers, sources) {
    for (const id of layers) if (this.map.getLayer(id)) this.map.removeLayer(id);
    for (const id of sources) if (this.map.getSource(id)) this.map.removeSource(id);
  }

  /** The panel's frame, beside the map; its content goes into `this.body` (`.name-body`). */
  createPanel() {
    const name = this.name;
    const badge = this.badge ? `<p class="info-kind"><span class="badge simulated" data-testid="${this.badge}"></span></p>\n          ` : '';
    this.panel = html(`<section id="${name}" class="${classes('energy', name)}" aria-labelledby="${name}-title" hidden>
      <header class="info-head">
        <div>${badge}<h2 id="${name}-title" tabindex="-1"></h2></div>
        <button type="button" class="icon-button ${name}-close">${CLOSE_ICON}</button>
      </header>
      <div class="${classes('energy-body', `${name}-body`)}"></div>
    </section>`);
    this.body = this.panel.querySelector(`.${name}-body`);
    this.panel.querySelector(`.${name}-close`).addEventListener('click', () => this.close());
    this.panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        this.close();
      }
    });
    document.querySelector('.map-wrap').append(this.panel);
  }
}

export class SideViews {
  /** `failed(error)` tells the reader a view could not be loaded or opened. */
  constructor({ failed }) {
    this.holders = [];
    this.failed = failed;
  }

  /**
   * `button` opens the view that `make({ onClose })` builds (its code imported then, once); pressed
   * again, it closes it. Returns the holder whose `view` is the view once made.
   */
  add(button, make) {
    const holder = { view: null };
    this.holders.push(holder);
    const onClose = () => {
      button.setAttribute('aria-pressed', 'false');
      button.focus();
    };
    button.addEventListener('click', async () => {
      if (holder.view?.isOpen) return holder.view.close();
      for (const other of this.holders) if (other !== holder) other.view?.close(); // one side view at a time
      try {
        holder.view ??= await make({ onClose });
        button.setAttribute('aria-pressed', 'true');
        await holder.view.open();
      } catch (error) {
        this.failed(error);
      }
    });
    return holder;
  }

  /** The view that drew the map feature `hit`, or null. */
  owner(hit) {
    return this.holders.find((holder) => holder.view?.owns(hit))?.view ?? null;
  }

  /** Draw the views again (the language changed). */
  render() {
    for (const holder of this.holders) holder.view?.render();
  }
}
