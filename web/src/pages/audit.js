import { api, query, errText } from '../api.js';
import { h, replace } from '../dom.js';
import { t, has, list } from '../i18n.js';
import { fmtDateTime, fmtBytes, fmtDuration, today, dayAfter } from '../format.js';

// The actions the server writes, in the order the filter offers them.
const actions = ['clip', 'recordings_list', 'evidence_export', 'hold_place', 'hold_release', 'live_start', 'live_end', 'alert_ack', 'login', 'login_failed', 'logout', 'audit_export', 'audit_checkpoint'];

// How close in time the live-wall sessions of one user must be to be one
// line: a layout change opens (or closes) a tile's session each.
const sessionGroupMs = 10e3;

// The audit log with filters (time, user, action, target) and a CSV
// export. The live-wall sessions a layout change opens or closes together
// show as one line, so the accesses that matter (clips, holds) stand out.
export function mount(el) {
  const f = { from: today(-6), to: today(), actor: '', action: '', target: '' };
  const body = h('div', { class: 'card' }, t('common.loading'));
  const input = (key, attrs) => h('input', { class: 'input', value: f[key], ...attrs, onchange: (e) => { f[key] = e.target.value.trim(); load(); } });
  const actionSel = h('select', { class: 'input', id: 'audit-action', onchange: (e) => { f.action = e.target.value; load(); } },
    h('option', { value: '' }, t('filter.all', { k: t('audit.action') })), actions.map((a) => h('option', { value: a }, actionName(a))));
  const params = () => ({ from: f.from, to: dayAfter(f.to), actor: f.actor, action: f.action, target: f.target });
  replace(el,
    h('div', { class: 'page-head' }, h('h2', {}, t('audit.title'))),
    h('div', { class: 'filters' },
      input('from', { type: 'date', id: 'audit-from' }), h('span', { class: 'muted' }, '—'), input('to', { type: 'date', id: 'audit-to' }),
      input('actor', { id: 'audit-actor', placeholder: t('audit.actor') }), actionSel,
      input('target', { id: 'audit-target', placeholder: t('audit.targetPh') }),
      h('span', { class: 'spacer' }),
      h('button', { class: 'btn small', id: 'audit-csv', onclick: () => { location.href = `/api/v1/audit${query({ ...params(), limit: 10000, format: 'csv' })}`; } }, `⬇ ${t('an.csv')}`)),
    body);

  let seq = 0;
  function load() {
    const my = ++seq;
    api(`/api/v1/audit${query({ ...params(), limit: 500 })}`).then(({ entries }) => {
      if (my !== seq) return;
      if (!entries.length) { replace(body, h('div', { class: 'empty' }, t('common.noData'))); return; }
      replace(body, h('table', { class: 'table', id: 'audit-table' },
        h('thead', {}, h('tr', {}, ['audit.ts', 'audit.actor', 'audit.action', 'audit.target', 'audit.detail', 'audit.client'].map((k) => h('th', {}, t(k))))),
        h('tbody', {}, group(entries).map((g) => h('tr', { 'data-action': g.action },
          h('td', { class: 'nowrap mono' }, fmtDateTime(g.ts)),
          h('td', {}, g.actor, g.role && h('span', { class: 'muted' }, ` (${has(`role.${g.role}`) ? t(`role.${g.role}`) : g.role})`)),
          h('td', {}, actionName(g.action)),
          h('td', { class: 'mono' }, list(g.targets)),
          h('td', { class: 'detail' }, g.targets.length > 1 ? t('audit.sessions', { n: g.targets.length }) : detail(g)),
          h('td', { class: 'mono muted' }, g.client || ''))))));
    }).catch((e) => replace(body, h('div', { class: 'error' }, t('common.error', { msg: errText(e) }))));
  }
  load();
}

function actionName(a) { return has(`audit.a.${a}`) ? t(`audit.a.${a}`) : a; }

// detail shows a row's detail: the parts the server read from a detail it
// wrote (fields), named in the user's language, or else the text as it is
// (what a person typed: a hold's reason, an acknowledgement's comment).
function detail(e) {
  if (!e.fields) return e.detail || '';
  // An empty window or interval 0 means "all": nothing to say.
  const shown = e.fields.filter((f) => f.value !== '' && !(f.key === 'interval' && f.value === '0'));
  // Spaces between the parts, so that a copied row reads as it looks.
  return shown.flatMap((f, i) => [i > 0 && ' ', h('span', { class: 'field', 'data-key': f.key },
    h('span', { class: 'muted' }, t('label', { k: has(`audit.f.${f.key}`) ? t(`audit.f.${f.key}`) : f.key })), fieldValue(f))]);
}

function fieldValue(f) {
  switch (f.key) {
    case 'bytes': case 'size': return fmtBytes(f.value);
    case 'duration_s': return fmtDuration(Number(f.value));
    case 'sha256': case 'session': return h('code', { title: f.value }, f.value.length > 12 ? `${f.value.slice(0, 12)}…` : f.value);
    case 'end': {
      const key = `audit.end.${f.value.replace(/ /g, '_')}`;
      return has(key) ? t(key) : f.value;
    }
    default: return f.value;
  }
}

// group folds the live-wall sessions one user started (or ended) within
// sessionGroupMs of each other into one entry with all their windows.
function group(entries) {
  const out = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    const live = e.action === 'live_start' || e.action === 'live_end';
    if (live && last && last.action === e.action && last.actor === e.actor &&
        Math.abs(Date.parse(last.ts) - Date.parse(e.ts)) <= sessionGroupMs) {
      if (e.target && !last.targets.includes(e.target)) last.targets.push(e.target);
      continue;
    }
    out.push({ ...e, targets: e.target ? [e.target] : [] });
  }
  return out;
}
