import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { t, has } from '../i18n.js';
import { fmtDateTime } from '../format.js';

export function mount(el) {
  const body = h('div', { class: 'card' }, t('common.loading'));
  replace(el, h('div', { class: 'page-head' }, h('h2', {}, t('audit.title'))), body);
  api('/api/v1/audit?limit=500').then(({ entries }) => {
    if (!entries.length) { replace(body, h('div', { class: 'empty' }, t('common.noData'))); return; }
    replace(body, h('table', { class: 'table', id: 'audit-table' },
      h('thead', {}, h('tr', {}, ['audit.ts', 'audit.actor', 'audit.action', 'audit.target', 'audit.detail', 'audit.client'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, entries.map((e) => h('tr', {},
        h('td', { class: 'nowrap mono' }, fmtDateTime(e.ts)),
        h('td', {}, e.actor, e.role && h('span', { class: 'muted' }, ` (${has(`role.${e.role}`) ? t(`role.${e.role}`) : e.role})`)),
        h('td', { class: 'mono' }, e.action),
        h('td', { class: 'mono' }, e.target || ''),
        h('td', { class: 'detail' }, e.detail || ''),
        h('td', { class: 'mono muted' }, e.client || ''))))));
  }).catch((e) => replace(body, h('div', { class: 'error' }, t('common.error', { msg: e.message }))));
}
