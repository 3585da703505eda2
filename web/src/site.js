import { lang } from './i18n.js';

// The site: what the console needs from the server before it shows a page
// (GET /api/v1/public/site, no sign-in: the public pages show times too) —
// the halls' time zone, in which every time is shown whatever the
// browser's zone, and the departments' English names.
const site = { timezone: 'Asia/Shanghai', departments: new Map() };

// loadSite reads the site once; without an answer the console keeps the
// configuration's default zone (CONTRACT.md: Asia/Shanghai).
export async function loadSite() {
  try {
    const res = await fetch('/api/v1/public/site', { credentials: 'same-origin' });
    if (!res.ok) return;
    const s = await res.json();
    if (s.timezone) site.timezone = s.timezone;
    site.departments = new Map((s.departments || []).map((d) => [d.name, d.name_en || '']));
  } catch { /* offline: the defaults stand */ }
}

// zone is the halls' time zone (an IANA name).
export function zone() { return site.timezone; }

// deptName is a department as the console's language calls it.
export function deptName(name) {
  const en = site.departments.get(name);
  return lang() === 'en' && en ? en : name;
}
