import { api, errText } from '../api.js';
import { h, replace } from '../dom.js';
import { t, named } from '../i18n.js';
import { deptName } from '../site.js';
import { fmtDuration } from '../format.js';
import { WhepPlayer } from '../whep.js';

const sizes = [1, 4, 9, 16];

// The live wall: the hall tree on the left, a grid of live players on the
// right, each tile with the window's live queue state over the video.
export function mount(el, ctx) {
  const st = {
    halls: [], windows: new Map(), items: new Map(),
    hall: localStorage.getItem('sunlight.wall.hall') || '',
    size: Number(localStorage.getItem('sunlight.wall.size')) || 4,
    page: 0, focus: ctx.query.get('window') || '',
    tiles: new Map(), // window id -> {el, player, parts}
    expanded: new Set(JSON.parse(localStorage.getItem('sunlight.wall.expanded') || '[]')),
  };
  if (!sizes.includes(st.size)) st.size = 4;

  const tree = h('div', { class: 'tree', id: 'hall-tree' }, t('common.loading'));
  const toolbar = h('div', { class: 'wall-toolbar' });
  const grid = h('div', { class: 'wall-grid', id: 'wall-grid' });
  const note = h('div', { class: 'banner warn', hidden: true });
  replace(el, h('div', { class: 'wall' },
    h('aside', { class: 'wall-side' }, h('div', { class: 'side-title' }, t('live.tree')), tree),
    h('section', { class: 'wall-main' }, toolbar, note, grid)));
  el.classList.add('full');

  const hallWindows = (id) => (st.halls.find((x) => x.id === id)?.windows || []).map((w) => w.id);

  function visible() {
    if (st.focus) return [st.focus];
    const ids = hallWindows(st.hall);
    const start = st.page * st.size;
    return ids.slice(start, start + st.size);
  }

  function renderTree() {
    const byParent = new Map();
    const ids = new Set(st.halls.map((x) => x.id));
    for (const hall of st.halls) {
      const p = hall.parent && ids.has(hall.parent) ? hall.parent : '';
      if (!byParent.has(p)) byParent.set(p, []);
      byParent.get(p).push(hall);
    }
    const node = (hall, depth) => {
      const open = st.expanded.has(hall.id) || hall.id === st.hall;
      const alerts = hall.windows.reduce((n, w) => n + (st.windows.get(w.id)?.alerts?.count || 0), 0);
      const row = h('div', {
        class: ['tree-row', hall.id === st.hall && 'selected'], style: { paddingLeft: `${8 + depth * 14}px` }, 'data-hall': hall.id,
        onclick: () => { selectHall(hall.id); },
      },
      h('span', {
        class: ['caret', open && 'open'],
        onclick: (e) => { e.stopPropagation(); toggle(hall.id); },
      }, '▸'),
      h('span', { class: `tier-tag ${hall.tier}` }, t(`tier.${hall.tier || 'city'}`)),
      h('span', { class: 'tree-name', title: hall.name }, hall.name || hall.id),
      alerts > 0 && h('span', { class: 'badge red' }, alerts),
      h('span', { class: 'tree-count' }, hall.windows.length));
      const kids = [];
      if (open) {
        for (const w of hall.windows) {
          const live = st.windows.get(w.id);
          const cam = live?.camera?.state || 'unknown';
          kids.push(h('div', {
            class: ['tree-row', 'win', st.focus === w.id && 'selected'], style: { paddingLeft: `${30 + depth * 14}px` }, 'data-window': w.id,
            onclick: () => { st.hall = hall.id; setFocus(w.id); },
          },
          h('span', { class: `dot ${cam}`, title: t(`cam.${camKey(cam)}`) }),
          h('span', { class: 'mono' }, w.id),
          h('span', { class: 'tree-name muted' }, w.department ? deptName(w.department) : ''),
          live?.alerts?.count > 0 && h('span', { class: `badge ${live.alerts.worst || 'yellow'}` }, live.alerts.count)));
        }
        for (const child of byParent.get(hall.id) || []) kids.push(...node(child, depth + 1));
      }
      return [row, ...kids];
    };
    replace(tree, (byParent.get('') || []).map((x) => node(x, 0)));
  }

  function toggle(id) {
    if (st.expanded.has(id)) st.expanded.delete(id); else st.expanded.add(id);
    localStorage.setItem('sunlight.wall.expanded', JSON.stringify([...st.expanded]));
    renderTree();
  }

  function selectHall(id) {
    st.hall = id;
    st.page = 0;
    st.focus = '';
    st.expanded.add(id);
    localStorage.setItem('sunlight.wall.hall', id);
    layout();
  }

  function setFocus(id) {
    st.focus = id;
    layout();
  }

  function renderToolbar() {
    const hall = st.halls.find((x) => x.id === st.hall);
    const total = Math.max(1, Math.ceil(hallWindows(st.hall).length / st.size));
    if (st.page >= total) st.page = total - 1;
    replace(toolbar,
      h('div', { class: 'wall-title' },
        h('strong', {}, hall ? hall.name : ''),
        hall && h('span', { class: 'muted' }, ` · ${t('live.windows', { n: hall.windows.length })}`),
        st.focus && h('span', { class: 'muted' }, ` · ${st.focus}`)),
      st.focus
        ? h('button', { class: 'btn small', id: 'wall-back', onclick: () => setFocus('') }, `← ${t('live.back')}`)
        : [
          total > 1 && h('div', { class: 'pager' },
            h('button', { class: 'btn small', disabled: st.page === 0, onclick: () => { st.page--; layout(); } }, t('live.prev')),
            h('span', { class: 'muted' }, t('live.page', { n: st.page + 1, total })),
            h('button', { class: 'btn small', disabled: st.page >= total - 1, onclick: () => { st.page++; layout(); } }, t('live.next'))),
          h('div', { class: 'seg', role: 'group', 'aria-label': t('live.grid') }, sizes.map((n) => h('button', {
            class: ['seg-btn', n === st.size && 'active'], 'data-size': n, title: `${n}`,
            onclick: () => { st.size = n; st.page = 0; localStorage.setItem('sunlight.wall.size', n); layout(); },
          }, gridIcon(n)))),
        ],
      h('span', { class: 'muted hint' }, t('live.focusHint')));
  }

  function layout() {
    renderToolbar();
    renderTree();
    const ids = visible();
    const cols = st.focus ? 1 : Math.sqrt(st.size);
    grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    grid.style.gridTemplateRows = `repeat(${cols}, minmax(0, 1fr))`;
    grid.className = `wall-grid cols-${cols}`;
    for (const [id, tile] of st.tiles) {
      if (!ids.includes(id)) { tile.player.stop(); st.tiles.delete(id); }
    }
    const els = ids.map((id) => (st.tiles.get(id) || makeTile(id)).el);
    const slots = st.focus ? 1 : st.size;
    const blanks = Array.from({ length: Math.max(0, slots - els.length) }, () => h('div', { class: 'tile blank' }));
    replace(grid, els, blanks);
    if (!ids.length) replace(grid, h('div', { class: 'empty-state' }, t('live.noWindows')));
    for (const id of ids) paint(id);
  }

  function makeTile(id) {
    const video = h('video', { muted: true, autoplay: true, playsinline: true });
    video.muted = true;
    const parts = {
      id: h('span', { class: 'win-id' }, id),
      dept: h('span', { class: 'win-dept' }),
      cam: h('span', { class: 'chip' }),
      alerts: h('span', { class: 'badge', hidden: true }),
      status: h('div', { class: 'tile-status' }),
      serving: h('div', { class: 'serving' }),
      queue: h('span', { class: 'queue' }),
    };
    const el = h('div', { class: 'tile', 'data-window': id, onclick: () => setFocus(st.focus === id ? '' : id) },
      video,
      h('div', { class: 'ov-top' }, parts.id, parts.dept, h('span', { class: 'spacer' }), parts.alerts, parts.cam),
      parts.status,
      h('div', { class: 'ov-bottom' }, parts.serving, parts.queue));
    const tile = { el, parts, video, pstatus: { kind: 'connecting' } };
    tile.player = new WhepPlayer(id, video, (s) => { tile.pstatus = s; paint(id); });
    st.tiles.set(id, tile);
    tile.player.start();
    return tile;
  }

  function paint(id) {
    const tile = st.tiles.get(id);
    if (!tile) return;
    const w = st.windows.get(id);
    const p = tile.parts;
    const cam = w?.camera?.state || 'unknown';
    tile.player.setCameraOnline(cam === 'online' || cam === 'unknown');
    // "A01号窗口" says nothing the id does not: show a name only if it adds.
    const name = w?.name && !w.name.startsWith(id) ? w.name : '';
    p.dept.textContent = [name, w?.department && deptName(w.department)].filter(Boolean).join(' · ');
    p.cam.className = `chip cam ${camKey(cam)}`;
    p.cam.textContent = t(`cam.${camKey(cam)}`);
    const n = w?.alerts?.count || 0;
    p.alerts.hidden = n === 0;
    p.alerts.className = `badge ${w?.alerts?.worst || 'yellow'}`;
    p.alerts.textContent = n ? `⚠ ${n}` : '';
    p.alerts.title = t('live.alerts', { n });
    // Why there is no picture: the camera first, then the player.
    let msg = '';
    const s = tile.pstatus;
    if (cam === 'offline' || cam === 'connecting') msg = t('player.cameraOffline');
    else if (s.kind === 'connecting') msg = t('player.connecting');
    else if (s.kind === 'ice') msg = t('player.iceFailed', { s: s.retryIn });
    else if (s.kind === 'forbidden') msg = t('player.forbidden');
    else if (s.kind === 'error') msg = t('player.error', { msg: s.message, s: s.retryIn });
    else if (s.kind === 'stalled') msg = t('player.stalled');
    else if (s.kind === 'unsupported') msg = t('player.unsupported');
    p.status.textContent = msg;
    p.status.hidden = !msg;
    tile.el.dataset.state = s.kind;
    const q = w?.queue;
    const sv = q?.serving;
    if (sv) {
      const since = sv.started || sv.called;
      const secs = since ? (Date.now() - Date.parse(since)) / 1000 : null;
      const item = st.items.get(sv.item);
      replace(p.serving,
        h('span', { class: `chip ${sv.started ? 'green' : 'blue'}` }, t(sv.started ? 'live.serving' : 'live.called')),
        h('span', { class: 'ticket' }, sv.ticket),
        sv.case_id && h('span', { class: 'case mono', title: t('live.case') }, sv.case_id),
        item && h('span', { class: 'sv-item', title: named(item.name, item.name_en) }, named(item.name, item.name_en)),
        secs !== null && h('span', { class: 'elapsed mono' }, fmtDuration(secs)));
    } else {
      const key = !q ? 'live.closed' : q.status === 'paused' ? 'live.paused' : q.status === 'closed' ? 'live.closed' : 'live.idle';
      replace(p.serving, h('span', { class: 'chip grey' }, t(key)));
    }
    p.queue.textContent = q ? t('live.queue', { n: q.length }) : '';
    p.queue.hidden = !q;
  }

  // The windows' state comes over SSE: a snapshot, then each window as
  // it changes (queue, camera, alerts). EventSource reconnects by itself
  // and the server starts again with a snapshot.
  let alive = true;
  let stream = null;
  function follow() {
    stream = new EventSource('/api/v1/windows/stream');
    stream.addEventListener('windows', (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg.snapshot) st.windows = new Map();
      for (const w of msg.windows || []) st.windows.set(w.id, w);
      note.hidden = true;
      renderTree();
      const ids = msg.snapshot ? [...st.tiles.keys()] : (msg.windows || []).map((w) => w.id);
      for (const id of ids) paint(id);
    });
    stream.addEventListener('error', () => {
      if (!alive) return;
      note.hidden = false;
      note.textContent = t('common.offline');
    });
  }
  const ticker = setInterval(() => { for (const id of st.tiles.keys()) paint(id); }, 1000);

  (async () => {
    try {
      const [{ halls }, catalog] = await Promise.all([api('/api/v1/halls'), api('/api/v1/public/items').catch(() => ({ items: [] }))]);
      if (!alive) return;
      st.halls = halls;
      st.items = new Map((catalog.items || []).map((i) => [i.code, i]));
      if (!halls.some((x) => x.id === st.hall)) st.hall = halls[0]?.id || '';
      if (st.focus) {
        const owner = halls.find((x) => x.windows.some((w) => w.id === st.focus));
        if (owner) st.hall = owner.id; else st.focus = '';
      }
      st.expanded.add(st.hall);
      layout();
      follow();
    } catch (e) {
      if (e.status !== 401) replace(tree, h('div', { class: 'error' }, t('common.error', { msg: errText(e) })));
    }
  })();

  const onKey = (e) => { if (e.key === 'Escape' && st.focus) setFocus(''); };
  window.addEventListener('keydown', onKey);
  return () => {
    alive = false;
    if (stream) stream.close();
    clearInterval(ticker);
    window.removeEventListener('keydown', onKey);
    el.classList.remove('full');
    for (const tile of st.tiles.values()) tile.player.stop();
    st.tiles.clear();
  };
}

function camKey(state) {
  return ['online', 'offline', 'connecting'].includes(state) ? state : 'unknown';
}

function gridIcon(n) {
  const k = Math.sqrt(n);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  const cell = 16 / k;
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < k; c++) {
      const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      rect.setAttribute('x', c * cell + 0.75);
      rect.setAttribute('y', r * cell + 0.75);
      rect.setAttribute('width', cell - 1.5);
      rect.setAttribute('height', cell - 1.5);
      rect.setAttribute('rx', 1);
      svg.append(rect);
    }
  }
  return svg;
}
