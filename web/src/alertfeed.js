import { t } from './i18n.js';

// AlertFeed is the one live alert stream of a signed-in page (SSE): it
// keeps the open alerts by id and tells its subscribers of each change.
// EventSource reconnects by itself; the server then sends the open
// alerts again, so a reconnect leaves no stale state.
export class AlertFeed {
  constructor() {
    this.alerts = new Map();
    this.subs = new Set();
    this.connected = false;
    this.es = null;
    this.started = Date.now();
  }

  start() {
    if (this.es) return;
    this.es = new EventSource('/api/v1/alerts/stream');
    this.es.addEventListener('open', () => { this.connected = true; this.emit({ type: 'status' }); });
    this.es.addEventListener('error', () => { this.connected = false; this.emit({ type: 'status' }); });
    const take = (type) => (e) => {
      let a;
      try { a = JSON.parse(e.data); } catch { return; }
      const seen = this.alerts.has(a.id);
      this.alerts.set(a.id, a);
      // A new red alert raised after the page opened is the one to flag.
      const fresh = type === 'alert' && !seen && !a.acked && Date.parse(a.raised_at) > this.started - 60e3;
      this.emit({ type, alert: a, fresh });
    };
    this.es.addEventListener('alert', take('alert'));
    this.es.addEventListener('ack', take('ack'));
  }

  stop() {
    if (this.es) this.es.close();
    this.es = null;
  }

  subscribe(fn) { this.subs.add(fn); return () => this.subs.delete(fn); }

  emit(ev) { for (const fn of this.subs) fn(ev); }

  open() { return [...this.alerts.values()].filter((a) => !a.acked); }
}

// chime plays a short two-tone cue for a new red alert (WebAudio, no file).
export function chime() {
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const tone = (freq, at) => {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = freq;
      g.gain.setValueAtTime(0.0001, ctx.currentTime + at);
      g.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + at + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + at + 0.25);
      o.connect(g).connect(ctx.destination);
      o.start(ctx.currentTime + at);
      o.stop(ctx.currentTime + at + 0.3);
    };
    tone(880, 0);
    tone(660, 0.3);
    setTimeout(() => ctx.close(), 1000);
  } catch { /* no audio: the visual cue stays */ }
}

export function alertMessage(a, lang) {
  return (lang === 'en' && a.message_en) ? a.message_en : (a.message || a.message_en || t(`kind.${a.kind}`));
}
