import { api, request, query, errText } from '../api.js';
import { h, replace } from '../dom.js';
import { t, named, list, paren } from '../i18n.js';
import { fmtDateTime, fmtDate, fmtDuration, fmtTime } from '../format.js';

// Case review: search by case ID, the timeline beside the recording of the
// service with a marker per event on its seek bar. Opening the recording
// needs a reason, which the server writes to the audit log.
export function mount(el, ctx) {
  const role = ctx.state.user.role;
  // The case search suggests the IDs of recent recorded cases.
  const suggest = h('datalist', { id: 'case-ids' });
  const input = h('input', { id: 'case-id', class: 'input', placeholder: t('cases.placeholder'), value: ctx.segs[0] || '', autocomplete: 'off', list: 'case-ids' });
  const out = h('div', { class: 'case-out', id: 'case-out' });
  const recent = JSON.parse(localStorage.getItem('sunlight.cases.recent') || '[]');
  replace(el,
    h('div', { class: 'page-head' }, h('h2', {}, t('cases.title')),
      h('form', { class: 'search-row', onsubmit: (e) => { e.preventDefault(); const id = input.value.trim(); if (id) ctx.navigate(`cases/${encodeURIComponent(id)}`); } },
        input, suggest, h('button', { class: 'btn primary', type: 'submit', id: 'case-search' }, t('cases.search')))),
    out);
  const recorded = api('/api/v1/cases?limit=20').then((r) => r.cases || []).catch(() => []);
  recorded.then((cs) => replace(suggest, cs.map((c) => h('option', { value: c.case_id }))));
  if (!ctx.segs[0]) {
    const list = h('div', { class: 'card', id: 'recorded-cases' }, t('common.loading'));
    replace(out, list, h('div', { class: 'empty-state' }, h('p', {}, t('cases.empty')),
      recent.length > 0 && h('div', { class: 'recent' }, h('span', { class: 'muted' }, t('label', { k: t('cases.recent') })),
        recent.map((id) => h('a', { href: `#/cases/${encodeURIComponent(id)}`, class: 'chip link mono' }, id)))));
    // Cases whose service was recorded, the latest first: an auditor
    // trying the console finds one without knowing a case ID.
    recorded.then((cs) => replace(list,
      h('div', { class: 'card-title' }, t('cases.recorded'), h('span', { class: 'muted small hint' }, t('cases.recordedHint'))),
      cs.length === 0 ? h('div', { class: 'empty' }, t('cases.noRecorded')) : h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', {}, t('cases.caseId')), h('th', {}, t('cases.windows')), h('th', {}, t('cases.served')), h('th', { class: 'num' }, t('cases.recordedShare')))),
        h('tbody', {}, cs.map((c) => h('tr', {},
          h('td', {}, h('a', { href: `#/cases/${encodeURIComponent(c.case_id)}`, class: 'mono', 'data-case': c.case_id }, c.case_id)),
          h('td', {}, c.window),
          h('td', {}, `${fmtDateTime(c.start)} – ${fmtTime(c.end)}${paren(fmtDuration((Date.parse(c.end) - Date.parse(c.start)) / 1000))}`),
          h('td', { class: 'num' }, `${Math.round(c.recorded * 100)}%`)))))));
    return;
  }
  const caseID = ctx.segs[0];
  let player = null;
  replace(out, h('div', { class: 'card' }, t('common.loading')));
  // The hall's name: auditors may not read the hall tree, and the public
  // lookup names the hall of a case.
  let hallName = '';
  api(`/api/v1/public/cases/${encodeURIComponent(caseID)}`).then((p) => { hallName = p.hall?.name || ''; }).catch(() => {})
    .then(() => api(`/api/v1/cases/${encodeURIComponent(caseID)}`)).then((c) => {
    localStorage.setItem('sunlight.cases.recent', JSON.stringify([caseID, ...recent.filter((x) => x !== caseID)].slice(0, 8)));
    const timeline = h('div', { class: 'card timeline-card' });
    const video = h('div', { class: 'card video-card' });
    replace(out, h('div', { class: 'case-grid' }, timeline, video));
    renderTimeline(timeline, c, null);
    player = clipPanel(video, c, role, (offsets) => renderTimeline(timeline, c, offsets));
  }).catch((e) => {
    if (e.status === 401) return;
    replace(out, h('div', { class: 'card error', id: 'case-error' }, e.status === 404 ? errText(e) : t('common.error', { msg: errText(e) })));
  });

  function renderTimeline(box, c, offsets) {
    const stateKey = `state.${c.state}`;
    replace(box,
      h('div', { class: 'case-head' },
        h('div', {}, h('div', { class: 'muted small' }, t('cases.timeline')), h('h3', { class: 'mono', id: 'case-title' }, c.case_id)),
        h('span', { class: `chip state-${c.state}` }, t(stateKey))),
      h('dl', { class: 'facts' },
        fact(t('cases.item'), c.item_name ? `${named(c.item_name, c.item_name_en)}${paren(c.item)}` : (c.item || '—')),
        fact(t('cases.hall'), hallName || c.hall || '—'),
        fact(t('cases.windows'), list(c.windows) || '—'),
        fact(t('cases.accepted'), fmtDateTime(c.accepted_at)),
        // The deadline is the end of its last day: show that day.
        fact(t('cases.deadline'), c.deadline ? `${fmtDate(Date.parse(c.deadline) - 1000)}${paren(t('cases.limit', { n: c.time_limit_days }))}` : '—'),
        fact(t('cases.completed'), fmtDateTime(c.completed_at))),
      holdBox(c),
      h('ol', { class: 'timeline', id: 'case-timeline' }, c.events.map((e, i) => {
        const off = offsets ? offsets[i] : null;
        return h('li', { class: ['tl-item', `ev-${e.type}`], 'data-type': e.type },
          h('span', { class: 'tl-dot' }),
          h('div', { class: 'tl-body' },
            h('div', { class: 'tl-line' },
              h('strong', {}, t(`ev.${e.type}`)),
              e.type === 'rating' && e.rating ? h('span', { class: 'chip' }, `${e.rating}★ ${t(`rating.${e.rating}`)}`) : null,
              h('span', { class: 'spacer' }),
              off !== null && off !== undefined
                ? h('button', { class: 'btn tiny', title: fmtDuration(off), onclick: () => player && player.seek(off) }, `▶ ${fmtDuration(off)}`)
                : null),
            h('div', { class: 'tl-meta muted' }, fmtDateTime(e.ts),
              e.window && ` · ${t('ev.window', { w: e.window })}`,
              e.ticket && ` · ${t('ev.ticket', { t: e.ticket })}`,
              e.staff && ` · ${t('ev.staff', { s: e.staff })}`,
              offsets && (off === null || off === undefined) && ` · ${t('cases.notInClip')}`)));
      })));
  }

  function holdBox(c) {
    const box = h('div', { class: ['hold', c.hold && 'on'], id: 'hold-box' });
    const reason = h('input', { class: 'input', placeholder: t('cases.holdReason') });
    const msg = h('span', { class: 'form-msg' });
    const set = async (on) => {
      try {
        if (on) {
          if (!reason.value.trim()) { reason.focus(); msg.className = 'form-msg error'; msg.textContent = t('cases.holdReason'); return; }
          await api(`/api/v1/cases/${encodeURIComponent(c.case_id)}/hold`, { method: 'POST', body: { reason: reason.value.trim() } });
        } else {
          await api(`/api/v1/cases/${encodeURIComponent(c.case_id)}/hold`, { method: 'DELETE' });
        }
        const fresh = await api(`/api/v1/cases/${encodeURIComponent(c.case_id)}`);
        c.hold = fresh.hold;
        box.replaceWith(holdBox(c));
      } catch (e) {
        msg.className = 'form-msg error';
        msg.textContent = t('common.error', { msg: errText(e) });
      }
    };
    return replace(box,
      h('div', { class: 'hold-line' }, h('strong', {}, t('cases.hold')), ' ',
        c.hold ? t('cases.holdOn', { by: c.hold.placed_by, reason: c.hold.reason, at: fmtDateTime(c.hold.placed_at) }) : h('span', { class: 'muted' }, t('cases.holdOff'))),
      h('div', { class: 'hold-actions' },
        c.hold ? h('button', { class: 'btn small', onclick: () => set(false) }, t('cases.holdRelease'))
          : [reason, h('button', { class: 'btn small', onclick: () => set(true) }, t('cases.holdPlace'))],
        msg));
  }

  return () => { if (player) player.stop(); };
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

// clipPanel asks for a reason, then plays the case's clip with a marker per
// event on a seek bar of its own, shows the SHA-256 the server computed and
// offers the file for download.
function clipPanel(box, c, role, onOffsets) {
  let video = null;
  let timer = null;
  const reason = h('input', { class: 'input', id: 'clip-reason', placeholder: t('cases.reasonPh'), maxlength: 200 });
  const msg = h('div', { class: 'form-msg' });
  const stage = h('div', { class: 'clip-stage' });
  const play = h('button', { class: 'btn primary', id: 'clip-play' }, `▶ ${t('cases.play')}`);
  const head = h('div', { class: 'clip-head' }, h('h3', {}, t('cases.video')), h('span', { class: 'muted small' }, t('cases.clipHint')));
  if (role !== 'auditor') {
    replace(box, head, h('div', { class: 'empty-state small' }, t('cases.onlyAuditors')));
    return { seek() {}, stop() {} };
  }
  const form = h('form', { class: 'reason-form', onsubmit: (e) => { e.preventDefault(); start(); } },
    h('label', {}, t('cases.reason'), h('div', { class: 'search-row' }, reason, play)), msg);
  replace(box, head, form, stage);

  async function start() {
    const why = reason.value.trim();
    if (!why) { msg.className = 'form-msg error'; msg.textContent = t('cases.reasonNeeded'); reason.focus(); return; }
    msg.textContent = '';
    play.disabled = true;
    const id = encodeURIComponent(c.case_id);
    try {
      const rec = await api(`/api/v1/cases/${id}/recordings${query({ reason: why })}`);
      const src = `/api/v1/cases/${id}/clip${query({ reason: why })}`;
      // One byte, to learn the hash the server sends with every answer.
      const probe = await request(src, { headers: { Range: 'bytes=0-0' } });
      const sha = probe.headers.get('X-Content-SHA256') || '';
      await probe.arrayBuffer();
      const { offsets, total, segments } = clipTimeline(c.events, rec.intervals);
      onOffsets(offsets);
      mountPlayer(src, sha, offsets, total, segments, rec.intervals, `/api/v1/cases/${id}/export${query({ reason: why })}`);
    } catch (e) {
      if (e.status === 401) return;
      msg.className = 'form-msg error';
      msg.textContent = e.status === 404 ? errText(e) : t('common.error', { msg: errText(e) });
      play.disabled = false;
    }
  }

  function mountPlayer(src, sha, offsets, total, segments, intervals, exportSrc) {
    video = h('video', { id: 'clip-video', preload: 'auto', playsinline: true, muted: true, autoplay: true, src });
    video.muted = true;
    const fill = h('div', { class: 'seek-fill' });
    const head = h('div', { class: 'seek-head' });
    const duration = () => (Number.isFinite(video.duration) && video.duration > 0 ? video.duration : total);
    const markers = c.events.map((e, i) => (offsets[i] === null ? null : h('button', {
      class: `marker ev-${e.type}`, title: `${t(`ev.${e.type}`)} ${fmtDateTime(e.ts)}`, 'data-type': e.type,
      style: { left: `${Math.min(100, (offsets[i] / total) * 100)}%` },
      onclick: (ev) => { ev.stopPropagation(); seek(offsets[i]); },
    }))).filter(Boolean);
    const bounds = segments.slice(1).map((s) => h('div', { class: 'seek-bound', style: { left: `${(s / total) * 100}%` } }));
    const track = h('div', {
      class: 'seek', id: 'clip-seek',
      onclick: (e) => { const r = track.getBoundingClientRect(); seek(((e.clientX - r.left) / r.width) * duration()); },
    }, h('div', { class: 'seek-rail' }, fill), bounds, markers, head);
    const time = h('span', { class: 'mono small' });
    const toggle = h('button', { class: 'btn small', onclick: () => (video.paused ? video.play() : video.pause()) }, '❚❚');
    const update = () => {
      const pct = Math.min(100, (video.currentTime / duration()) * 100);
      fill.style.width = `${pct}%`;
      head.style.left = `${pct}%`;
      time.textContent = `${fmtDuration(video.currentTime)} / ${fmtDuration(duration())}`;
      toggle.textContent = video.paused ? '▶' : '❚❚';
    };
    video.addEventListener('timeupdate', update);
    video.addEventListener('play', update);
    video.addEventListener('pause', update);
    video.addEventListener('loadedmetadata', update);
    timer = setInterval(update, 500);
    const gaps = intervals.reduce((n, iv) => n + (iv.gaps?.length || 0), 0);
    const legend = [...new Set(c.events.filter((_, i) => offsets[i] !== null).map((e) => e.type))]
      .map((type) => h('span', { class: 'legend-item' }, h('span', { class: `marker-dot ev-${type}` }), t(`ev.${type}`)));
    replace(stage,
      h('div', { class: 'video-wrap' }, video),
      h('div', { class: 'controls' }, toggle, track, time),
      h('div', { class: 'legend' }, legend, gaps > 0 && h('span', { class: 'chip yellow' }, t('cases.gaps', { n: gaps }))),
      h('div', { class: 'clip-foot' },
        h('a', { class: 'btn small', href: src, download: `case-${c.case_id}.mp4`, id: 'clip-download' }, `⬇ ${t('cases.download')}`),
        h('a', { class: 'btn small', href: exportSrc, download: `case-${c.case_id}-evidence.zip`, id: 'clip-export', title: t('cases.exportHint') }, `⬇ ${t('cases.export')}`),
        h('span', { class: 'sha' }, h('span', { class: 'muted' }, t('label', { k: t('cases.sha') })), h('code', { id: 'clip-sha' }, sha || '—'))));
  }

  function seek(sec) {
    if (!video) return;
    video.currentTime = Math.max(0, sec);
    video.play().catch(() => {});
  }

  return { seek, stop() { clearInterval(timer); if (video) { video.pause(); video.removeAttribute('src'); video.load(); } } };
}

// clipTimeline maps each event to its second in the clip: the clip joins
// the service intervals in order, so an event inside an interval sits at
// the length of the intervals before it plus its distance from the
// interval's start. Events outside every interval get null.
export function clipTimeline(events, intervals) {
  const ivs = [...intervals].sort((a, b) => Date.parse(a.from) - Date.parse(b.from));
  const starts = [];
  let total = 0;
  for (const iv of ivs) {
    starts.push(total);
    total += Math.max(0, (Date.parse(iv.to) - Date.parse(iv.from)) / 1000);
  }
  const offsets = events.map((e) => {
    const ts = Date.parse(e.ts);
    for (let i = 0; i < ivs.length; i++) {
      const from = Date.parse(ivs[i].from), to = Date.parse(ivs[i].to);
      if ((!e.window || !ivs[i].window || e.window === ivs[i].window) && ts >= from && ts <= to) return starts[i] + (ts - from) / 1000;
    }
    return null;
  });
  return { offsets, total: total || 1, segments: starts };
}
