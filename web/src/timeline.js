// The time slider: "Live" shows the latest values; moving the slider (or playing) shows the city as of
// a past time. Its range is the time extent of what is shown (the sensors' Datastreams, the district
// statistics' years) and its step a calendar-like unit that gives a few hundred positions.

import { formatTime, t } from './i18n.js';

const HOUR = 3600e3;
const DAY = 24 * HOUR;
const STEPS = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];
const POSITIONS = 1000;
const PLAY_MS = 700;

export class Timeline {
  constructor({ onTime, onLive }) {
    this.onTime = onTime;
    this.onLive = onLive;
    this.live = document.getElementById('time-live');
    this.play = document.getElementById('time-play');
    this.slider = document.getElementById('time-slider');
    this.label = document.getElementById('time-label');
    this.min = document.getElementById('time-min');
    this.max = document.getElementById('time-max');
    this.extent = null;
    this.step = DAY;
    this.time = null; // null: live
    this.transport = '';
    this.slider.addEventListener('input', () => this.fromSlider(false));
    this.slider.addEventListener('change', () => this.fromSlider(true));
    this.live.addEventListener('click', () => this.goLive());
    this.play.addEventListener('click', () => (this.playing ? this.stop() : this.start()));
    this.render();
  }

  /** The range of the slider; a single instant is widened by a day each way. */
  setExtent(extent) {
    if (!extent) {
      this.extent = null;
      this.render();
      return;
    }
    let [t0, t1] = extent;
    if (!(t1 > t0)) [t0, t1] = [t0 - DAY, t1 + DAY];
    this.extent = [t0, t1];
    this.step = STEPS.find((s) => s >= (t1 - t0) / 400) || STEPS[STEPS.length - 1];
    if (this.time !== null) this.time = Math.min(Math.max(this.time, t0), t1);
    this.render();
  }

  /** How long a value stays shown after its Observation: a step, at least a day. */
  hold() {
    return Math.max(this.step, DAY);
  }

  precision() {
    if (this.step < DAY) return 'minute';
    if (this.step < 91 * DAY) return 'day';
    return this.step < 365 * DAY ? 'month' : 'year';
  }

  snap(time) {
    const [t0, t1] = this.extent;
    const snapped = t0 + Math.round((time - t0) / this.step) * this.step;
    return Math.min(Math.max(snapped, t0), t1);
  }

  fromSlider(commit) {
    if (!this.extent) return;
    const [t0, t1] = this.extent;
    const time = this.snap(t0 + ((t1 - t0) * Number(this.slider.value)) / POSITIONS);
    this.setTime(time, commit ? 0 : 150);
  }

  /** Show a past time; the map follows after `delay` ms (slider drags are debounced). */
  setTime(time, delay = 0) {
    this.time = time;
    this.render();
    clearTimeout(this.timer);
    const run = () => (this.loading = Promise.resolve(this.onTime(time, this.hold())).catch(() => {}));
    if (delay) this.timer = setTimeout(run, delay);
    else run();
    return this.loading;
  }

  goLive() {
    this.stop();
    clearTimeout(this.timer);
    this.time = null;
    this.render();
    this.onLive();
  }

  async start() {
    if (!this.extent) return;
    this.playing = true;
    this.render();
    let time = this.time === null || this.time >= this.extent[1] ? this.extent[0] : this.time;
    while (this.playing) {
      const shown = Date.now();
      await this.setTime(time);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, PLAY_MS - (Date.now() - shown))));
      if (!this.playing) break;
      if (time >= this.extent[1]) break;
      time = Math.min(time + this.step, this.extent[1]);
    }
    this.stop();
  }

  stop() {
    this.playing = false;
    this.render();
  }

  setTransport(text) {
    this.transport = text;
    this.render();
  }

  render() {
    const live = this.time === null;
    this.live.setAttribute('aria-pressed', String(live));
    this.play.classList.toggle('playing', Boolean(this.playing));
    const playLabel = t(this.playing ? 'pause' : 'play');
    this.play.setAttribute('aria-label', playLabel);
    this.play.title = playLabel;
    this.play.disabled = !this.extent;
    this.slider.disabled = !this.extent;
    if (this.extent) {
      const [t0, t1] = this.extent;
      const value = live ? POSITIONS : Math.round(((this.time - t0) / (t1 - t0)) * POSITIONS);
      this.slider.value = String(value);
      const precision = this.precision() === 'minute' ? 'day' : this.precision();
      this.min.textContent = formatTime(t0, precision);
      this.max.textContent = formatTime(t1, precision);
      this.slider.setAttribute('aria-valuetext', live ? t('liveNow') : formatTime(this.time, this.precision()));
    }
    this.label.innerHTML = '';
    if (live) {
      this.label.append(t('liveNow'));
      if (this.transport) {
        const small = document.createElement('small');
        small.textContent = this.transport;
        small.className = 'transport';
        this.label.append(small);
      }
    } else {
      this.label.textContent = formatTime(this.time, this.precision());
    }
    document.body.classList.toggle('replay', !live);
  }
}
