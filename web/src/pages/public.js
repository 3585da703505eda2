import { api, query, errText } from '../api.js';
import { h, replace, debounce } from '../dom.js';
import { t, setLang, lang, named, list, paren } from '../i18n.js';
import { fmtDate, fmtDateTime } from '../format.js';

// The public face, no sign-in: case progress by case ID and the service
// catalog. Nothing here shows who applied, the window or the staff.
export function mount(app, ctx) {
  const [section, id] = [ctx.segs[0] || 'case', ctx.segs[1] || ''];
  const main = h('main', { class: 'public-main' });
  replace(app,
    h('header', { class: 'public-top' },
      h('a', { class: 'brand', href: '#/public/case' }, h('span', { class: 'brand-sun' }), t('pub.title')),
      h('nav', { class: 'nav' },
        h('a', { class: ['nav-link', section === 'case' && 'active'], href: '#/public/case' }, t('pub.case')),
        h('a', { class: ['nav-link', section === 'items' && 'active'], href: '#/public/items' }, t('pub.items'))),
      h('div', { class: 'topbar-right' },
        h('button', { class: 'btn ghost small', onclick: () => setLang(lang() === 'zh' ? 'en' : 'zh') }, t('lang.switch')),
        h('a', { class: 'nav-link subtle', href: '#/login' }, t('pub.staffLogin')))),
    main);
  document.title = `${t(section === 'items' ? 'pub.items' : 'pub.case')} · ${t('pub.title')}`;
  if (section === 'items') return items(main, id, ctx);
  return caseLookup(main, id, ctx);
}

function caseLookup(main, id, ctx) {
  const input = h('input', { class: 'input big', id: 'pub-case-id', placeholder: t('pub.casePh'), value: id, autocomplete: 'off' });
  const out = h('div', { id: 'pub-case-out' });
  replace(main, h('section', { class: 'public-card narrow' },
    h('h2', {}, t('pub.case')),
    h('p', { class: 'muted' }, t('pub.caseIntro')),
    h('form', { class: 'search-row', onsubmit: (e) => { e.preventDefault(); const v = input.value.trim(); if (v) ctx.navigate(`public/case/${encodeURIComponent(v)}`); } },
      input, h('button', { class: 'btn primary', type: 'submit', id: 'pub-case-search' }, t('common.search'))),
    out));
  if (!id) return;
  replace(out, h('p', { class: 'muted' }, t('common.loading')));
  api(`/api/v1/public/cases/${encodeURIComponent(id)}`).then((c) => {
    const done = c.state !== 'accepted';
    const steps = [
      ['pub.step.accepted', true, fmtDateTime(c.accepted_at)],
      ['pub.step.processing', true, done ? '' : t('pub.workdaysUsed', { n: c.workdays_used })],
      [c.state === 'rejected' ? 'state.rejected' : 'pub.step.done', done, done ? fmtDateTime(c.completed_at) : ''],
    ];
    let verdict = null;
    if (c.state === 'accepted') {
      verdict = c.overdue ? h('div', { class: 'verdict red' }, t('pub.overdue'))
        : c.workdays_left !== undefined && c.workdays_left !== null ? h('div', { class: 'verdict blue' }, t('pub.workdaysLeft', { n: c.workdays_left })) : null;
    } else if (c.state === 'completed' && c.on_time !== undefined && c.on_time !== null) {
      verdict = h('div', { class: `verdict ${c.on_time ? 'green' : 'yellow'}` }, t(c.on_time ? 'pub.onTime' : 'pub.late'));
    }
    replace(out, h('div', { class: 'progress-card', id: 'pub-case' },
      h('div', { class: 'progress-head' },
        h('div', {}, h('div', { class: 'muted small' }, t('pub.casePh')), h('div', { class: 'mono big-id' }, c.case_id)),
        h('span', { class: `chip state-${c.state}` }, c.state_text && lang() === 'zh' ? c.state_text : t(`state.${c.state}`))),
      h('ol', { class: 'steps' }, steps.map(([key, reached, note], i) => h('li', { class: ['step', reached && 'reached', i === 1 && !done && 'current'] },
        h('span', { class: 'step-dot' }, i + 1), h('div', {}, h('strong', {}, t(key)), note && h('div', { class: 'muted small' }, note))))),
      verdict,
      h('dl', { class: 'facts' }, [
        [t('cases.item'), `${named(c.item?.name || '', c.item?.name_en)}${paren(c.item?.code || '')}`],
        [t('pub.department'), named(c.item?.department, c.item?.department_en) || '—'],
        [t('pub.hall'), c.hall?.name || '—'],
        [t('pub.timeLimit'), c.item?.time_limit_days ? t('cases.limit', { n: c.item.time_limit_days }) : '—'],
        [t('cases.deadline'), fmtDate(c.deadline)],
        [t('pub.phone'), c.item?.phone || '—'],
      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))));
  }).catch((e) => {
    replace(out, h('div', { class: 'form-msg error', id: 'pub-case-error' },
      e.status === 404 ? t('pub.notFound') : e.status === 429 ? t('pub.tooMany') : t('common.error', { msg: errText(e) })));
  });
}

function items(main, code, ctx) {
  const q = h('input', { class: 'input', id: 'pub-item-q', placeholder: t('pub.search'), value: ctx.query.get('q') || '' });
  const dept = h('select', { class: 'input' }, h('option', { value: '' }, t('filter.all', { k: t('pub.department') })));
  const itemList = h('div', { class: 'item-list', id: 'pub-items' });
  const count = h('span', { class: 'muted' });
  let halls = new Map();
  replace(main, h('section', { class: 'public-card' },
    h('div', { class: 'page-head' }, h('h2', {}, t('pub.items')), h('span', { class: 'spacer' }), count),
    h('div', { class: 'filters' }, q, dept), itemList));
  let depts = null;
  const load = async () => {
    try {
      const { items } = await api(`/api/v1/public/items${query({ q: q.value.trim(), department: dept.value })}`);
      if (!depts) {
        depts = new Map(items.map((i) => [i.department, named(i.department, i.department_en)]));
        for (const [d, label] of [...depts].sort((a, b) => a[1].localeCompare(b[1]))) dept.append(h('option', { value: d }, label));
      }
      count.textContent = t('pub.itemsCount', { n: items.length });
      if (!items.length) { replace(itemList, h('div', { class: 'empty' }, t('pub.noItems'))); return; }
      replace(itemList, items.map((it) => itemCard(it, it.code === code, halls)));
      const open = itemList.querySelector('.item.open');
      if (open) open.scrollIntoView({ block: 'start' });
    } catch (e) {
      replace(itemList, h('div', { class: 'form-msg error' }, t('common.error', { msg: errText(e) })));
    }
  };
  q.addEventListener('input', debounce(load, 250));
  dept.addEventListener('change', load);
  // Hall names for "where": the hall tree needs a sign-in, so the row is
  // left out for the public rather than showing internal ids.
  if (ctx.state.user) {
    api('/api/v1/halls').then(({ halls: hs }) => { halls = new Map(hs.map((x) => [x.id, x.name])); load(); }).catch(() => load());
  } else {
    load();
  }
}

function itemCard(it, open, halls) {
  const card = h('article', { class: ['item', open && 'open'], 'data-code': it.code },
    h('header', { class: 'item-head', onclick: () => card.classList.toggle('open') },
      h('span', { class: 'mono muted' }, it.code),
      h('strong', { class: 'item-name' }, named(it.name, it.name_en)),
      h('span', { class: 'chip' }, named(it.department, it.department_en)),
      h('span', { class: 'spacer' }),
      h('span', { class: 'chip blue' }, `${t('pub.timeLimit')} ${t('cases.limit', { n: it.time_limit_days })}`),
      h('span', { class: 'caret' }, '▸')),
    h('div', { class: 'item-body' },
      h('dl', { class: 'facts' },
        h('dt', {}, t('pub.basis')), h('dd', {}, it.legal_basis || '—'),
        h('dt', {}, t('pub.fee')), h('dd', {}, it.fee || t('pub.free')),
        h('dt', {}, t('pub.department')), h('dd', {}, named(it.department, it.department_en)),
        h('dt', {}, t('pub.phone')), h('dd', {}, it.phone || '—'),
        halls.size > 0 && [h('dt', {}, t('pub.halls')), h('dd', {}, list((it.halls || []).map((x) => halls.get(x) || x)) || '—')]),
      h('div', { class: 'two-col' },
        h('div', {}, h('h4', {}, t('pub.materials')), it.materials?.length ? h('ul', {}, it.materials.map((m) => h('li', {}, m))) : h('p', { class: 'muted' }, t('common.none'))),
        h('div', {}, h('h4', {}, t('pub.steps')), it.steps?.length ? h('ol', {}, it.steps.map((s) => h('li', {}, s))) : h('p', { class: 'muted' }, t('common.none'))))));
  return card;
}
