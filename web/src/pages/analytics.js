import { api, query, errText } from '../api.js';
import { h, replace } from '../dom.js';
import { t, has, named } from '../i18n.js';
import { deptName } from '../site.js';
import { Chart } from '../charts.js';
import { fmtNum, fmtPct, fmtMinutes, today, dayAfter } from '../format.js';
import { kpiFixture, distributionFixture } from '../fixture.js';

const emptyGraphic = (text) => ({ graphic: { type: 'text', left: 'center', top: 'middle', style: { text, fill: '#94a3b8', fontSize: 14 } } });

// The managers' dashboards over the KPI API: cards, eight charts and a
// drill-down table, all under one set of filters.
export function mount(el, ctx) {
  const fixture = ctx.query.get('fixture') === '1';
  const f = { from: today(-29), to: today(), hall: '', department: '', compare: true };
  const drill = []; // [{level, filter: {tier|hall: key}, label}]
  const charts = new Map();
  let alive = true;

  const fromIn = h('input', { type: 'date', class: 'input', value: f.from, id: 'an-from', onchange: (e) => { f.from = e.target.value; load(); } });
  const toIn = h('input', { type: 'date', class: 'input', value: f.to, id: 'an-to', onchange: (e) => { f.to = e.target.value; load(); } });
  const preset = (label, days) => h('button', {
    class: 'btn small', onclick: () => { f.from = today(-days + 1); f.to = today(); fromIn.value = f.from; toIn.value = f.to; load(); },
  }, t(label));
  const hallSel = h('select', { class: 'input', onchange: (e) => { f.hall = e.target.value; load(); } }, h('option', { value: '' }, t('filter.all', { k: t('an.hall') })));
  const deptSel = h('select', { class: 'input', onchange: (e) => { f.department = e.target.value; load(); } }, h('option', { value: '' }, t('filter.all', { k: t('an.department') })));
  const cmp = h('input', { type: 'checkbox', checked: f.compare, onchange: (e) => { f.compare = e.target.checked; load(); } });
  const csvLevel = h('select', { class: 'input' }, ['window', 'hall', 'department', 'item', 'staff', 'hour_weekday'].map((l) => h('option', { value: l }, t(`level.${l}`))));
  const csvBtn = h('button', { class: 'btn small', id: 'an-csv', onclick: () => { location.href = `/api/v1/analytics/kpi${query({ ...params(), level: csvLevel.value, format: 'csv' })}`; } }, `⬇ ${t('an.csv')}`);
  const banner = h('div', { class: 'banner warn', hidden: true, id: 'an-banner' });
  const cards = h('div', { class: 'kpi-cards', id: 'kpi-cards' });
  const box = (id, title, cls) => {
    const body = h('div', { class: 'chart', id: `chart-${id}` });
    charts.set(id, new Chart(body));
    return h('div', { class: ['card', 'chart-card', cls] }, h('div', { class: 'card-title' }, t(title)), body);
  };
  const drillBox = h('div', { class: 'card', id: 'drill' });
  const qualityBox = h('div', { class: 'card', id: 'quality' });
  const hallNames = new Map();
  replace(el,
    h('div', { class: 'page-head' }, h('h2', {}, t('an.title'))),
    h('div', { class: 'filters' },
      h('span', { class: 'muted' }, t('an.range')), preset('an.today', 1), preset('an.7d', 7), preset('an.30d', 30),
      fromIn, h('span', { class: 'muted' }, '—'), toIn, hallSel, deptSel,
      h('label', { class: 'check' }, cmp, t('an.compare')),
      h('span', { class: 'spacer' }), csvLevel, csvBtn),
    banner, cards,
    h('div', { class: 'chart-grid' },
      box('hour', 'chart.byHour'), box('heat', 'chart.heatmap'),
      box('wait', 'chart.waitDist'), box('handle', 'chart.handleDist'),
      box('windows', 'chart.windowRank', 'tall'), box('depts', 'chart.deptRank', 'tall'),
      box('items', 'chart.onTimeItem'), box('rating', 'chart.satisfaction')),
    drillBox, qualityBox);

  api('/api/v1/halls').then(({ halls }) => {
    const depts = new Set();
    for (const x of halls) {
      hallNames.set(x.id, x.name);
      hallSel.append(h('option', { value: x.id }, x.name));
      for (const w of x.windows) if (w.department) depts.add(w.department);
    }
    for (const d of [...depts].sort()) deptSel.append(h('option', { value: d }, deptName(d)));
  }).catch(() => {});

  // The range through the "to" date: the API's to is exclusive.
  function params() {
    return { from: f.from, to: dayAfter(f.to), hall: f.hall, department: f.department, compare: f.compare };
  }

  async function kpi(level, extra = {}) {
    if (fixture) return kpiFixture(level, params());
    return api(`/api/v1/analytics/kpi${query({ ...params(), level, ...extra })}`);
  }
  async function quality() {
    if (fixture) return { rows: [] };
    const { from, to, hall } = params();
    return api(`/api/v1/analytics/quality${query({ from, to, hall })}`);
  }
  async function dist(metric) {
    if (fixture) return distributionFixture(metric);
    return api(`/api/v1/analytics/distribution${query({ ...params(), metric })}`);
  }

  let seq = 0;
  async function load() {
    const my = ++seq;
    banner.hidden = !fixture;
    banner.textContent = fixture ? t('an.sample') : '';
    el.dataset.loaded = '';
    try {
      // The cards' totals come from the network level: medians and rates
      // of the whole selection cannot be made from those of its tiers.
      const [network, hw, win, dep, item, wait, handle] = await Promise.all([
        kpi('network'), kpi('hour_weekday'), kpi('window', { sort: 'served', order: 'desc' }), kpi('department'), kpi('item'), dist('wait'), dist('handle')]);
      if (!alive || my !== seq) return;
      renderCards(network);
      hourChart(hw);
      heatChart(hw);
      distChart('wait', wait);
      distChart('handle', handle);
      windowChart(win);
      deptChart(dep);
      itemChart(item);
      ratingChart(dep);
      await renderDrill();
      renderQuality(await quality());
      el.dataset.loaded = fixture ? 'fixture' : 'api';
    } catch (e) {
      if (e.status === 401 || !alive) return;
      banner.hidden = false;
      banner.textContent = t('an.unavailable', { msg: errText(e) });
      for (const c of charts.values()) c.set(emptyGraphic(t('common.noData')), true);
      el.dataset.loaded = 'error';
    }
  }

  // total gives the card values (under short names) of the network
  // level's row, or zeros when the selection has none.
  function total(rows, pick = (r) => r) {
    const sum = (fn, w) => rows.reduce((a, r) => a + (fn(pick(r)) ?? 0) * w(pick(r)), 0);
    const served = rows.reduce((a, r) => a + (pick(r)?.served || 0), 0);
    const weighted = (k, wk = 'served') => {
      const weight = (x) => ((x?.[k] ?? null) === null ? 0 : (x?.[wk] ?? x?.served ?? 0));
      const w = rows.reduce((a, r) => a + weight(pick(r)), 0);
      return w ? sum((x) => x?.[k], weight) / w : null;
    };
    return { served, wait: weighted('wait_p50_s'), handle: weighted('handle_p50_s'), sl: weighted('service_level'),
      onTime: weighted('on_time_rate', 'completed'), onTimeUnknown: rows.reduce((a, r) => a + (pick(r)?.completed_unknown || 0), 0), rating: weighted('rating_avg', 'rating_count'), util: weighted('utilisation') };
  }

  function renderCards(res) {
    const rows = res.rows.map(normal);
    const cur = total(rows);
    const prev = hasPrevious(res) ? total(rows.filter((r) => r.previous), (r) => r.previous) : null;
    const card = (key, v, fmt, better) => {
      let delta = null;
      if (prev && prev[key] !== null && v !== null && prev[key] !== 0) {
        const d = (v - prev[key]) / Math.abs(prev[key]);
        const good = better === 'up' ? d >= 0 : d <= 0;
        delta = h('span', { class: ['delta', good ? 'good' : 'bad'], title: t('kpi.prev', { v: fmt(prev[key]) }) }, `${d >= 0 ? '▲' : '▼'} ${Math.abs(d * 100).toFixed(1)}%`);
      }
      return [v, delta];
    };
    const items = [
      ['kpi.served', 'served', (v) => fmtNum(v), 'up'],
      ['kpi.wait', 'wait', fmtMinutes, 'down'],
      ['kpi.handle', 'handle', fmtMinutes, 'down'],
      ['kpi.serviceLevel', 'sl', (v) => fmtPct(v), 'up'],
      ['kpi.onTime', 'onTime', (v) => fmtPct(v), 'up'],
      ['kpi.rating', 'rating', (v) => (v === null ? '—' : `${v.toFixed(2)} / 5`), 'up'],
    ];
    replace(cards, items.map(([label, key, fmt, better]) => {
      const [v, delta] = card(key, cur[key], fmt, better);
      // Cases completed without a known acceptance are not in the rate:
      // say how many, beside it.
      const unknown = key === 'onTime' && cur.onTimeUnknown > 0 &&
        h('span', { class: 'muted', id: 'kpi-ontime-unknown', title: t('kpi.unknownHint') }, t('kpi.unknownCases', { n: fmtNum(cur.onTimeUnknown) }));
      return h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, t(label)), h('div', { class: 'kpi-value' }, fmt(v)),
        h('div', { class: 'kpi-foot' }, delta, prev && prev[key] !== null && h('span', { class: 'muted' }, t('kpi.prev', { v: fmt(prev[key]) })),
          f.compare && !prev && h('span', { class: 'muted no-prev' }, t('kpi.noPrev'))),
        unknown && h('div', { class: 'kpi-foot' }, unknown));
    }));
  }

  const hours = Array.from({ length: 24 }, (_, i) => i);
  function byHour(rows, pick) {
    const out = hours.map(() => 0);
    for (const r of rows) {
      const v = pick(r);
      if (!v) continue;
      const hr = dayHour(r)[1];
      out[hr] += v.served || 0;
    }
    return out;
  }
  // Only the hours the hall is open: a row of zeros at night is noise.
  function openHours(...series) {
    const used = hours.filter((hr) => series.some((s) => s[hr] > 0));
    if (!used.length) return [];
    return hours.filter((hr) => hr >= used[0] && hr <= used[used.length - 1]);
  }

  function hourChart(res) {
    const cur = byHour(res.rows, (r) => r);
    const prev = hasPrevious(res) ? byHour(res.rows, (r) => r.previous) : null;
    const hrs = openHours(cur, prev || []);
    const c = charts.get('hour');
    if (!hrs.length) { c.set(emptyGraphic(t('common.noData')), true); return; }
    const series = [{ name: t('chart.current'), type: 'bar', data: hrs.map((x) => cur[x]), barMaxWidth: 22 }];
    if (prev) series.push({ name: t('chart.previous'), type: 'line', data: hrs.map((x) => prev[x]), smooth: true, symbol: 'none', lineStyle: { type: 'dashed' } });
    c.set({
      tooltip: { trigger: 'axis' }, legend: { top: 0, right: 0 }, grid: { left: 48, right: 16, top: 32, bottom: 28 },
      xAxis: { type: 'category', data: hrs.map((x) => `${x}:00`) }, yAxis: { type: 'value', name: t('chart.cases'), nameGap: 10 }, series,
    });
  }

  function heatChart(res) {
    const c = charts.get('heat');
    const cur = byHour(res.rows, (r) => r);
    const hrs = openHours(cur);
    if (!hrs.length) { c.set(emptyGraphic(t('common.noData')), true); return; }
    const data = [];
    let max = 0;
    for (const r of res.rows) {
      const [d, hr] = dayHour(r);
      if (!hrs.includes(hr)) continue;
      data.push([hrs.indexOf(hr), d - 1, r.served || 0]);
      max = Math.max(max, r.served || 0);
    }
    c.set({
      tooltip: { position: 'top', formatter: (p) => `${t(`wd.${p.value[1] + 1}`)} ${hrs[p.value[0]]}:00 — ${p.value[2]} ${t('unit.cases')}` },
      grid: { left: 48, right: 64, top: 8, bottom: 24 },
      xAxis: { type: 'category', data: hrs.map((x) => `${x}`), splitArea: { show: true } },
      yAxis: { type: 'category', data: [1, 2, 3, 4, 5, 6, 7].map((d) => t(`wd.${d}`)), inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max: max || 1, calculable: true, orient: 'vertical', right: 0, top: 'middle', itemHeight: 140, itemWidth: 12, inRange: { color: ['#eff6ff', '#93c5fd', '#1d4ed8'] } },
      series: [{ type: 'heatmap', data, label: { show: hrs.length <= 12, fontSize: 10 } }],
    });
  }

  function distChart(id, res) {
    const c = charts.get(id);
    const b = res.buckets || [];
    if (!b.some((x) => x.count > 0)) { c.set(emptyGraphic(t('common.noData')), true); return; }
    const label = (x) => (x.to_s ? `${Math.round(x.from_s / 60)}–${Math.round(x.to_s / 60)}` : `≥${Math.round(x.from_s / 60)}`);
    c.set({
      tooltip: { trigger: 'axis', formatter: (p) => `${p[0].name} ${t('unit.min')}<br>${p[0].value} ${t('unit.cases')}` },
      grid: { left: 48, right: 16, top: 24, bottom: 40 },
      xAxis: { type: 'category', data: b.map(label), name: t('chart.minutes'), nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', name: t('chart.cases'), nameGap: 8 },
      series: [{ type: 'bar', data: b.map((x) => x.count), barCategoryGap: '8%', itemStyle: { color: id === 'wait' ? '#f59e0b' : '#10b981' } }],
    });
  }

  function rankBars(c, rows, value, fmt, opts = {}) {
    if (!rows.length || !rows.some((r) => (value(r) || 0) > 0)) { c.set(emptyGraphic(t('common.noData')), true); return; }
    const top = rows.slice(0, opts.limit || 15).reverse();
    const series = [{ name: t('chart.current'), type: 'bar', data: top.map(value), barMaxWidth: 16,
      label: { show: true, position: 'right', formatter: (p) => fmt(p.value), fontSize: 11 } }];
    if (opts.prev) series.push({ name: t('chart.previous'), type: 'bar', data: top.map((r) => (r.previous ? value(r.previous) : null)), barMaxWidth: 16, itemStyle: { color: '#cbd5e1' } });
    c.set({
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: fmt }, legend: opts.prev ? { top: 0, right: 0 } : undefined,
      grid: { left: 8, right: 56, top: opts.prev ? 28 : 8, bottom: 8, containLabel: true },
      xAxis: { type: 'value', max: opts.max, axisLabel: { formatter: opts.axis || undefined } },
      yAxis: { type: 'category', data: top.map(opts.label || rowName), axisLabel: { width: 140, overflow: 'truncate' } },
      series,
    });
  }

  function windowChart(res) {
    // Rows without a window (events the queue system sent for the hall)
    // and windows that served nobody say nothing in a ranking.
    const rows = res.rows.filter((r) => r.served > 0 && windowID(r)).sort((a, b) => (b.served || 0) - (a.served || 0));
    rankBars(charts.get('windows'), rows, (r) => r.served, (v) => fmtNum(v), { prev: hasPrevious(res), label: windowLabel });
  }

  function deptChart(res) {
    const rows = [...res.rows].sort((a, b) => (b.served || 0) - (a.served || 0));
    const c = charts.get('depts');
    if (!rows.some((r) => r.served > 0)) { c.set(emptyGraphic(t('common.noData')), true); return; }
    const names = rows.map(rowName);
    c.set({
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } }, legend: { top: 0, right: 0 },
      grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: names, axisLabel: { interval: 0, rotate: names.length > 5 ? 30 : 0, width: 90, overflow: 'truncate' } },
      yAxis: [{ type: 'value', name: t('chart.cases') }, { type: 'value', max: 100, axisLabel: { formatter: '{value}%' }, splitLine: { show: false } }],
      series: [
        { name: t('kpi.served'), type: 'bar', data: rows.map((r) => r.served), barMaxWidth: 28 },
        { name: t('kpi.serviceLevel'), type: 'line', yAxisIndex: 1, data: rows.map((r) => pct(r.service_level)), tooltip: { valueFormatter: (v) => `${v}%` } },
        { name: t('kpi.onTime'), type: 'line', yAxisIndex: 1, data: rows.map((r) => pct(r.on_time_rate)), tooltip: { valueFormatter: (v) => `${v}%` } },
      ],
    });
  }

  function itemChart(res) {
    const rows = res.rows.filter((r) => r.on_time_rate !== null && r.on_time_rate !== undefined).sort((a, b) => a.on_time_rate - b.on_time_rate);
    rankBars(charts.get('items'), rows.reverse(), (r) => pct(r.on_time_rate), (v) => (v === null ? '—' : `${v}%`), { max: 100, axis: '{value}%', label: rowName });
  }

  function ratingChart(res) {
    const sums = [0, 0, 0, 0, 0];
    for (const r of res.rows) ratingsOf(r).forEach((n, i) => { sums[i] += n || 0; });
    const c = charts.get('rating');
    if (!sums.some((x) => x > 0)) { c.set(emptyGraphic(t('common.noData')), true); return; }
    const colors = ['#ef4444', '#f97316', '#eab308', '#22c55e', '#15803d'];
    c.set({
      tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
      legend: { orient: 'vertical', right: 8, top: 'middle' },
      series: [{ type: 'pie', radius: ['45%', '72%'], center: ['38%', '50%'], label: { formatter: '{d}%' },
        data: [5, 4, 3, 2, 1].map((lv) => ({ name: t(`rating.${lv}`), value: sums[lv - 1], itemStyle: { color: colors[lv - 1] } })) }],
    });
  }

  async function renderDrill() {
    const last = drill[drill.length - 1];
    const level = last ? last.level : 'tier';
    const res = await kpi(level, { ...(last?.filter || {}), sort: 'served', order: 'desc' });
    if (!alive) return;
    const next = { tier: 'hall', hall: 'window' }[level];
    const crumbs = [h('a', { href: 'javascript:void 0', onclick: () => { drill.length = 0; renderDrill(); } }, t('drill.all')),
      drill.map((d, i) => [' › ', h('a', { href: 'javascript:void 0', onclick: () => { drill.length = i + 1; renderDrill(); } }, d.label)])];
    const cols = [
      ['col.served', (r) => r.served, (v) => fmtNum(v), 'up'],
      ['col.waitP50', (r) => r.wait_p50_s, fmtMinutes, 'down'],
      ['col.waitP90', (r) => r.wait_p90_s, fmtMinutes, 'down'],
      ['col.handleP50', (r) => r.handle_p50_s, fmtMinutes, 'down'],
      ['col.serviceLevel', (r) => r.service_level, (v) => fmtPct(v), 'up'],
      ['col.onTime', (r) => r.on_time_rate, (v) => fmtPct(v), 'up', (r) => r.completed_unknown > 0 && t('col.unknownCases', { n: fmtNum(r.completed_unknown) })],
      ['col.rating', (r) => r.rating_avg, (v) => (v === null || v === undefined ? '—' : v.toFixed(2)), 'up'],
    ];
    const label = (r) => (level === 'tier' && has(`tier.${r.key}`) ? t(`tier.${r.key}`) : level === 'window' ? windowLabel(r) : rowName(r));
    replace(drillBox,
      h('div', { class: 'card-title' }, t('chart.drill'), h('span', { class: 'crumbs' }, crumbs), next && h('span', { class: 'muted small hint' }, t('drill.hint'))),
      res.rows.length === 0 ? h('div', { class: 'empty' }, t('common.noData')) : h('table', { class: 'table', id: 'drill-table' },
        h('thead', {}, h('tr', {}, h('th', {}, t('col.name')), cols.map(([k]) => h('th', { class: 'num' }, t(k))))),
        h('tbody', {}, res.rows.map((r) => h('tr', {
          class: next && 'clickable', 'data-key': r.key,
          onclick: next ? () => { drill.push({ level: next, filter: { [level]: r.key }, label: label(r) }); renderDrill(); } : undefined,
        }, h('td', {}, label(r), r.open_inferred_seconds > 0 && h('span', { class: 'tag inferred', title: t('col.inferredHint') }, t('col.inferred'))),
        cols.map(([, get, fmt, better, note]) => {
          const v = get(r);
          const p = active(r.previous) ? get(r.previous) : null;
          let d = null;
          if (p !== null && p !== undefined && v !== null && v !== undefined && v !== p) {
            const up = v > p;
            d = h('span', { class: ['delta', (up === (better === 'up')) ? 'good' : 'bad'] }, up ? ' ▲' : ' ▼');
          }
          const extra = note && note(r);
          return h('td', { class: 'num' }, fmt(v), d, extra && h('div', { class: 'muted small' }, extra));
        }))))));
  }

  // What the queue systems are not sending: one row per window with any
  // signal (a window whose stream is whole is left out), worst first.
  function renderQuality(res) {
    const kinds = ['end_without_start', 'call_without_ticket', 'completed_without_acceptance', 'out_of_order', 'late'];
    const bad = (r) => kinds.reduce((a, k) => a + (r[k] || 0), 0);
    const rows = (res.rows || []).filter((r) => bad(r) > 0).sort((a, b) => bad(b) - bad(a));
    const total = (res.rows || []).reduce((a, r) => a + (r.events || 0), 0);
    replace(qualityBox,
      h('div', { class: 'card-title' }, t('quality.title'), h('span', { class: 'muted small hint' }, t('quality.hint', { n: fmtNum(total), m: res.late_after_minutes ?? 60 }))),
      rows.length === 0 ? h('div', { class: 'empty', id: 'quality-ok' }, t(total ? 'quality.ok' : 'common.noData')) : h('table', { class: 'table', id: 'quality-table' },
        h('thead', {}, h('tr', {}, h('th', {}, t('an.hall')), h('th', {}, t('quality.window')), h('th', { class: 'num' }, t('quality.events')),
          kinds.map((k) => h('th', { class: 'num', title: t(`quality.${k}.hint`) }, t(`quality.${k}`))))),
        h('tbody', {}, rows.map((r) => h('tr', { 'data-key': `${r.hall}/${r.window}` },
          h('td', {}, hallNames.get(r.hall) || r.hall), h('td', {}, r.window || t('quality.noWindow')), h('td', { class: 'num' }, fmtNum(r.events)),
          kinds.map((k) => h('td', { class: ['num', r[k] > 0 && 'warn'] }, fmtNum(r[k] || 0))))))));
  }

  load();
  return () => {
    alive = false;
    for (const c of charts.values()) c.dispose();
  };
}

// The API's rows, read the same whatever its minor variations: the
// weekday and hour as fields or in the key, the ratings as an array or as
// rating_1..rating_5, the rating count under either name.
function dayHour(r) {
  if (r.weekday !== undefined && r.hour !== undefined) return [Number(r.weekday), Number(r.hour)];
  return String(r.key).split(/[-/]/).map(Number);
}

function ratingsOf(r) {
  if (!r) return [0, 0, 0, 0, 0];
  if (Array.isArray(r.ratings)) return r.ratings;
  return [1, 2, 3, 4, 5].map((i) => r[`rating_${i}`] || 0);
}

function normal(r) {
  const count = (x) => (x ? (x.rating_count ?? ratingsOf(x).reduce((a, b) => a + b, 0)) : 0);
  return { ...r, rating_count: count(r), previous: r.previous ? { ...r.previous, rating_count: count(r.previous) } : r.previous };
}

// A previous period with nothing in it (before the history began) is no
// comparison: zeros would draw a flat line and ▲ on every row.
function active(p) { return !!p && [p.tickets, p.completed, p.ratings, p.rating_count, p.open_seconds].some((v) => v > 0); }

function hasPrevious(res) { return res.rows.some((r) => active(r.previous)); }

// "A05 · 市场监管局" rather than "city-main/A05 A05号窗口".
function windowID(r) { return r.window || String(r.key).split('/').pop(); }

function windowLabel(r) {
  // Events the queue system sent for the hall, not a window (tickets).
  if (!windowID(r)) return t('quality.noWindow');
  const id = windowID(r);
  const name = r.name && !r.name.startsWith(id) ? ` ${r.name}` : '';
  return `${id}${name}${r.department ? ` · ${deptName(r.department)}` : ''}`;
}

// rowName is a row's group as the language calls it (an item's or a
// department's English name in English mode, where one is configured).
function rowName(r) { return named(r.name, r.name_en) || r.key; }

function pct(v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; }
