import { api, query, errText } from '../api.js';
import { h, replace } from '../dom.js';
import { t, lang, has } from '../i18n.js';
import { fmtDateTime } from '../format.js';
import { alertMessage } from '../alertfeed.js';

const kinds = ['case_overdue', 'case_due_soon', 'step_overrun', 'long_wait', 'unattended', 'camera_offline', 'bad_rating', 'spool_full', 'disk_full'];

// Alerts: the open alerts live from the shared SSE feed, or the history
// from the list API; filters; acknowledging with a comment.
export function mount(el, ctx) {
  const canAck = ['inspector', 'admin'].includes(ctx.state.user.role);
  const f = { state: 'open', severity: '', kind: '', hall: '', window: '' };
  let history = null; // alerts from the list API when state is "all"
  const flashIds = new Set();
  const sel = (key, options) => h('select', { class: 'input', 'data-filter': key, onchange: (e) => { f[key] = e.target.value; load(); } },
    options.map(([v, label]) => h('option', { value: v, selected: f[key] === v }, label)));
  const hallSel = sel('hall', [['', t('filter.all', { k: t('an.hall') })]]);
  const winInput = h('input', { class: 'input narrow', placeholder: t('alerts.window'), onchange: (e) => { f.window = e.target.value.trim(); load(); } });
  const status = h('span', { class: 'live-status' });
  const list = h('div', { class: 'card flush', id: 'alert-list' });
  const count = h('span', { class: 'muted' });
  const csv = h('a', { class: 'btn small', id: 'alerts-csv' }, t('alerts.csv'));
  replace(el,
    h('div', { class: 'page-head' }, h('h2', {}, t('alerts.title')), status, h('span', { class: 'spacer' }), count, csv),
    h('div', { class: 'filters' },
      sel('state', [['open', t('alerts.open')], ['all', t('alerts.allStates')]]),
      sel('severity', [['', t('filter.all', { k: t('alerts.severity') })], ['red', t('sev.red')], ['yellow', t('sev.yellow')]]),
      sel('kind', [['', t('filter.all', { k: t('alerts.kind') })], ...kinds.map((k) => [k, t(`kind.${k}`)])]),
      hallSel, winInput),
    list);

  const hallNames = new Map();
  api('/api/v1/halls').then(({ halls }) => {
    for (const x of halls) {
      hallNames.set(x.id, x.name);
      hallSel.append(h('option', { value: x.id }, x.name));
    }
    render();
  }).catch(() => {});

  const matches = (a) => (!f.severity || a.severity === f.severity) && (!f.kind || a.kind === f.kind)
    && (!f.hall || a.hall === f.hall) && (!f.window || a.window === f.window);

  function rows() {
    if (f.state === 'all' && history) {
      // The history, with any newer state from the live feed.
      const byId = new Map(history.map((a) => [a.id, a]));
      if (ctx.state.feed) for (const a of ctx.state.feed.alerts.values()) if (matches(a)) byId.set(a.id, a);
      return [...byId.values()];
    }
    return ctx.state.feed ? ctx.state.feed.open().filter(matches) : [];
  }

  function render() {
    const feed = ctx.state.feed;
    status.className = `live-status ${feed && feed.connected ? 'on' : 'off'}`;
    status.textContent = feed && feed.connected ? `● ${t('alerts.live')}` : t('alerts.reconnecting');
    csv.href = `/api/v1/alerts${query({ ...f, format: 'csv', limit: 10000 })}`;
    const all = rows().sort((a, b) => (a.acked - b.acked) || (sevRank(b) - sevRank(a)) || (Date.parse(b.raised_at) - Date.parse(a.raised_at)));
    count.textContent = t('alerts.count', { n: all.length });
    if (!all.length) { replace(list, h('div', { class: 'empty' }, t('alerts.none'))); return; }
    replace(list, h('table', { class: 'table alerts' },
      h('thead', {}, h('tr', {}, ['alerts.severity', 'alerts.raised', 'alerts.kind', 'alerts.window', 'alerts.message', 'alerts.status'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, all.map((a) => h('tr', { class: [a.acked && 'acked', flashIds.has(a.id) && 'flash'], 'data-id': a.id, 'data-severity': a.severity },
        h('td', {}, h('span', { class: `sev ${a.severity}` }, t(`sev.${a.severity}`))),
        h('td', { class: 'nowrap mono' }, fmtDateTime(a.raised_at)),
        h('td', { class: 'nowrap' }, has(`kind.${a.kind}`) ? t(`kind.${a.kind}`) : a.kind),
        h('td', { class: 'nowrap' }, a.window ? h('span', { class: 'mono' }, a.window) : (hallNames.get(a.hall) || a.hall || '—')),
        h('td', {}, alertMessage(a, lang()), a.case_id && h('a', { class: 'mono small case-link', href: `#/cases/${encodeURIComponent(a.case_id)}` }, ` ${a.case_id}`)),
        h('td', { class: 'ack-cell' }, a.acked
          ? h('span', { class: 'muted small' }, t('alerts.acked', { by: a.acked_by || '', comment: a.ack_comment || '' }))
          : canAck ? h('button', { class: 'btn small', onclick: () => ackDialog(a) }, t('alerts.ack')) : h('span', { class: 'muted' }, '—')))))));
  }

  async function load() {
    history = null;
    if (f.state === 'all') {
      replace(list, h('div', { class: 'empty' }, t('common.loading')));
      try {
        history = (await api(`/api/v1/alerts${query({ ...f, limit: 500 })}`)).alerts;
      } catch (e) {
        if (e.status !== 401) replace(list, h('div', { class: 'error' }, t('common.error', { msg: errText(e) })));
        return;
      }
    }
    render();
  }

  function ackDialog(a) {
    const comment = h('textarea', { class: 'input', id: 'ack-comment', rows: 3, placeholder: t('alerts.commentPh') });
    const msg = h('div', { class: 'form-msg' });
    const close = () => overlay.remove();
    const overlay = h('div', { class: 'modal-back', onclick: (e) => e.target === overlay && close() },
      h('form', {
        class: 'modal', onsubmit: async (e) => {
          e.preventDefault();
          if (!comment.value.trim()) { msg.className = 'form-msg error'; msg.textContent = t('alerts.comment'); return; }
          try {
            const updated = await api(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`, { method: 'POST', body: { comment: comment.value.trim() } });
            if (ctx.state.feed) ctx.state.feed.alerts.set(updated.id, updated);
            if (history) history = history.map((x) => (x.id === updated.id ? updated : x));
            close();
            render();
          } catch (err) {
            msg.className = 'form-msg error';
            msg.textContent = err.status === 409 ? errText(err) : t('common.error', { msg: errText(err) });
          }
        },
      },
      h('h3', {}, t('alerts.ackTitle')),
      h('p', {}, h('span', { class: `sev ${a.severity}` }, t(`sev.${a.severity}`)), ' ', alertMessage(a, lang())),
      h('label', {}, t('alerts.comment'), comment), msg,
      h('div', { class: 'modal-actions' },
        h('button', { class: 'btn', type: 'button', onclick: close }, t('common.cancel')),
        h('button', { class: 'btn primary', type: 'submit', id: 'ack-submit' }, t('alerts.ack')))));
    document.body.append(overlay);
    comment.focus();
  }

  const unsub = ctx.state.feed ? ctx.state.feed.subscribe((ev) => {
    if (ev.fresh) {
      flashIds.add(ev.alert.id);
      setTimeout(() => { flashIds.delete(ev.alert.id); }, 6000);
    }
    render();
  }) : () => {};
  load();
  return () => unsub();
}

function sevRank(a) { return a.severity === 'red' ? 2 : 1; }
