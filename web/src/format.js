import { lang, t } from './i18n.js';
import { zone } from './site.js';

// Times are shown in the halls' time zone (the configuration's timezone,
// from the site), never in the browser's or in UTC: every time a page
// shows goes through these functions.
let formatter = null, formatterZone = '';

function parts(d) {
  if (formatterZone !== zone()) {
    formatterZone = zone();
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone: zone(), year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  }
  const o = {};
  for (const p of formatter.formatToParts(d)) o[p.type] = p.value;
  return o;
}

export function fmtDateTime(v) {
  if (!v) return '—';
  const p = parts(new Date(v));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

export function fmtTime(v) {
  if (!v) return '—';
  const p = parts(new Date(v));
  return `${p.hour}:${p.minute}:${p.second}`;
}

export function fmtDate(v) {
  if (!v) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
  const p = parts(new Date(v));
  return `${p.year}-${p.month}-${p.day}`;
}

// dayAfter is the date after a YYYY-MM-DD date. The API's ?to= is
// exclusive (the date's midnight), while a date picker's "to" means
// through that day: a form sends dayAfter(to).
export function dayAfter(d) {
  const t = new Date(`${d}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + 1);
  return t.toISOString().slice(0, 10);
}

// today is the hall's calendar date, YYYY-MM-DD, shifted by days.
export function today(days = 0) {
  const p = parts(new Date(Date.now() + days * 86400e3));
  return `${p.year}-${p.month}-${p.day}`;
}

// fmtDuration: 75 -> "1:15", 3725 -> "1:02:05".
export function fmtDuration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '—';
  sec = Math.max(0, Math.round(sec));
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

// fmtMinutes: seconds as "4.2 分钟" / "4.2 min".
export function fmtMinutes(sec) {
  if (sec === null || sec === undefined) return '—';
  return `${(sec / 60).toFixed(1)} ${t('unit.min')}`;
}

export function fmtPct(v, digits = 1) {
  if (v === null || v === undefined) return '—';
  return `${(v * 100).toFixed(digits)}%`;
}

// fmtBytes: 1536 -> "1.5 KB".
export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = Number(n), i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function fmtNum(v, digits = 0) {
  if (v === null || v === undefined) return '—';
  return Number(v).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
