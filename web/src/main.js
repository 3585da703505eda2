import './style.css';
import { api, setUnauthorizedHandler } from './api.js';
import { h, replace } from './dom.js';
import { t, setLang, lang, onLang } from './i18n.js';
import { loadSite } from './site.js';
import { AlertFeed, chime, alertMessage } from './alertfeed.js';
import * as login from './pages/login.js';
import * as live from './pages/live.js';
import * as analytics from './pages/analytics.js';
import * as cases from './pages/cases.js';
import * as alerts from './pages/alerts.js';
import * as audit from './pages/audit.js';
import * as pub from './pages/public.js';

// Pages and who may open them: the API enforces the same rules, this only
// keeps the navigation honest.
const pages = [
  { path: 'live', nav: 'nav.live', roles: ['inspector', 'admin'], mod: live },
  { path: 'analytics', nav: 'nav.analytics', roles: ['manager', 'admin'], mod: analytics },
  { path: 'cases', nav: 'nav.cases', roles: ['auditor', 'admin'], mod: cases },
  { path: 'alerts', nav: 'nav.alerts', roles: ['inspector', 'manager', 'admin'], mod: alerts },
  { path: 'audit', nav: 'nav.audit', roles: ['auditor', 'admin'], mod: audit },
];
const home = { inspector: 'live', manager: 'analytics', auditor: 'cases', admin: 'live' };
const alertRoles = ['inspector', 'manager', 'admin'];

const app = document.getElementById('app');
const state = { user: null, cleanup: null, feed: null, flash: '' };
window.sunlight = state; // for the end-to-end tests and the curious

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, qs] = raw.split('?');
  const segs = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { segs, query: new URLSearchParams(qs || '') };
}

export function navigate(path) {
  if (location.hash !== `#/${path}`) location.hash = `#/${path}`;
  else render();
}

setUnauthorizedHandler(() => {
  // While signing out, another call's 401 (the session just revoked) is
  // not an expiry: the sign-out says what happened.
  if (!state.user || state.signingOut) return;
  endSession('login.expired');
});

function endSession(flashKey) {
  state.user = null;
  state.signingOut = false;
  state.flash = flashKey;
  if (state.feed) state.feed.stop();
  state.feed = null;
  if (state.expiryTimer) clearTimeout(state.expiryTimer);
  document.getElementById('toasts')?.remove();
  navigate('login');
}

function startSession(user) {
  state.user = user;
  if (state.expiryTimer) clearTimeout(state.expiryTimer);
  const ms = Date.parse(user.expires) - Date.now();
  // The server says 401 on the next call anyway; the timer makes an idle
  // wall go back to the sign-in page at the moment the session ends.
  if (ms > 0 && ms < 2 ** 31) state.expiryTimer = setTimeout(() => endSession('login.expired'), ms + 1000);
  if (alertRoles.includes(user.role)) {
    state.feed = new AlertFeed();
    state.feed.start();
    state.feed.subscribe((ev) => {
      if (ev.type === 'alert' && ev.fresh && ev.alert.severity === 'red') redCue(ev.alert);
      updateAlertBadge();
    });
  }
}

async function logout() {
  state.signingOut = true;
  try { await api('/api/v1/auth/logout', { method: 'POST' }); } catch { /* signed out anyway */ }
  endSession('login.signedOut');
}

// Red alerts pop up in the bottom right corner, where no page keeps its
// controls (at the top right they covered the dashboard's level selector
// and CSV button): the newest three, each for 8 s; a click opens the
// alerts page, the × only dismisses.
const maxToasts = 3;

function redCue(a) {
  chime();
  let area = document.getElementById('toasts');
  if (!area) {
    area = h('div', { id: 'toasts', class: 'toasts' });
    document.body.append(area);
  }
  const toast = h('div', { class: 'red-banner', role: 'alert', onclick: () => { toast.remove(); navigate('alerts'); } },
    h('span', { class: 'sev-dot red' }),
    h('span', { class: 'toast-msg' }, t('alerts.newRed', { msg: alertMessage(a, lang()) })),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': t('alerts.dismiss'), title: t('alerts.dismiss'),
      onclick: (e) => { e.stopPropagation(); toast.remove(); } }, '×'));
  area.append(toast);
  while (area.children.length > maxToasts) area.firstElementChild.remove();
  setTimeout(() => toast.remove(), 8000);
}

function updateAlertBadge() {
  const el = document.getElementById('nav-alert-badge');
  if (!el || !state.feed) return;
  const open = state.feed.open();
  el.textContent = open.length ? String(open.length) : '';
  el.className = `badge ${open.some((a) => a.severity === 'red') ? 'red' : 'yellow'}`;
  el.hidden = open.length === 0;
}

function shell(active) {
  const u = state.user;
  const nav = pages.filter((p) => p.roles.includes(u.role)).map((p) =>
    h('a', { href: `#/${p.path}`, class: ['nav-link', p.path === active && 'active'], 'data-page': p.path },
      t(p.nav), p.path === 'alerts' && h('span', { id: 'nav-alert-badge', class: 'badge', hidden: true })));
  const main = h('main', { class: 'page', id: 'page' });
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: `#/${home[u.role]}` }, h('span', { class: 'brand-sun' }), t('app.name')),
    h('nav', { class: 'nav' }, nav),
    h('div', { class: 'topbar-right' },
      h('a', { class: 'nav-link subtle', href: '#/public/case' }, t('nav.public')),
      h('button', { class: 'btn ghost small', onclick: () => setLang(lang() === 'zh' ? 'en' : 'zh') }, t('lang.switch')),
      h('span', { class: 'user', title: u.username }, h('span', { class: 'user-name' }, u.username), h('span', { class: 'role-tag' }, t(`role.${u.role}`)),
        u.scope && u.scope.length > 0 && h('span', { class: 'scope-tag', id: 'user-scope', title: u.scope.join(', ') }, t('user.scope', { halls: u.scope.join(', ') }))),
      h('button', { class: 'btn ghost small', id: 'logout', onclick: logout }, t('nav.logout'))));
  replace(app, header, main);
  updateAlertBadge();
  return main;
}

// renders counts render calls: one that waited for the session while the
// address changed (a click, a test navigating) gives way to the newer one,
// so two pages never mount, nor two sessions (two alert feeds) start.
let renders = 0;

async function render() {
  const my = ++renders;
  if (state.cleanup) { try { state.cleanup(); } catch (e) { console.error(e); } }
  state.cleanup = null;
  const { segs, query } = parseHash();
  const ctx = { segs: segs.slice(1), query, navigate, state };
  if (segs[0] === 'public') {
    state.cleanup = pub.mount(app, ctx) || null;
    return;
  }
  if (!state.user) {
    try {
      const me = await api('/api/v1/auth/me');
      if (!state.user) startSession(me);
    } catch {
      if (my !== renders) return;
      if (segs[0] !== 'login') { state.next = location.hash; navigate('login'); return; }
    }
    if (my !== renders) return;
  }
  if (segs[0] === 'login' || !state.user) {
    if (state.user) { navigate(home[state.user.role]); return; }
    const flash = state.flash;
    state.flash = '';
    state.cleanup = login.mount(app, {
      ...ctx, flash,
      onLogin: (user) => {
        startSession(user);
        const next = state.next;
        state.next = '';
        if (next && !next.startsWith('#/login')) location.hash = next; else navigate(home[user.role]);
      },
    }) || null;
    return;
  }
  const page = pages.find((p) => p.path === segs[0]);
  if (!page) { navigate(home[state.user.role]); return; }
  const main = shell(page.path);
  if (!page.roles.includes(state.user.role)) {
    replace(main, h('div', { class: 'empty-state', id: 'forbidden' }, h('h2', {}, t('forbidden.title')),
      h('p', {}, t('forbidden.text', { role: t(`role.${state.user.role}`) }))));
    return;
  }
  document.title = `${t(page.nav)} · ${t('app.name')}`;
  state.cleanup = page.mod.mount(main, ctx) || null;
}

// The site first: no page may show a time before the halls' zone is known.
loadSite().then(() => {
  window.addEventListener('hashchange', render);
  onLang(() => render());
  if (!location.hash) location.hash = '#/login';
  render();
});
