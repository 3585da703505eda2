// Sample analytics of exactly the API's shapes, for developing the
// dashboards without a server (#/analytics?fixture=1): never shown unless
// asked for, and then under a banner.

function rng(seed) {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
}

function row(key, name, r, scale = 1) {
  const served = Math.round((40 + r() * 160) * scale);
  const ratings = [r() * 2, r() * 3, r() * 8, 20 + r() * 30, 60 + r() * 80].map((x) => Math.round(x * scale));
  const count = ratings.reduce((a, b) => a + b, 0);
  return {
    key, name, served, throughput_per_hour: served / 160, wait_p50_s: 200 + r() * 500, wait_p90_s: 900 + r() * 900,
    handle_p50_s: 300 + r() * 400, handle_p90_s: 900 + r() * 600, service_level: 0.6 + r() * 0.35, utilisation: 0.4 + r() * 0.5,
    idle_s: r() * 20000, no_show_rate: r() * 0.08, abandon_rate: r() * 0.05, on_time_rate: 0.85 + r() * 0.15,
    rating_avg: (ratings.reduce((a, n, i) => a + n * (i + 1), 0) / count), rating_count: count, ratings,
  };
}

export function kpiFixture(level, params) {
  const r = rng(level.length * 7919 + 17);
  const names = {
    network: [['all', '全部']],
    tier: [['city', '市级'], ['district', '区级'], ['community', '社区']],
    hall: [['city-main', '市政务服务中心主大厅'], ['dist-east', '东城区政务服务中心'], ['comm-river', '滨江社区便民服务站']],
    window: Array.from({ length: 12 }, (_, i) => [`A${String(i + 1).padStart(2, '0')}`, `${i + 1}号窗口`]),
    department: [['市场监管局', '市场监管局'], ['税务局', '税务局'], ['人社局', '人社局'], ['公安局', '公安局'], ['不动产登记中心', '不动产登记中心']],
    item: [['SC-001', '企业设立登记'], ['TX-001', '发票领用'], ['RS-002', '社保参保登记'], ['GA-003', '居住证办理'], ['BDC-01', '不动产转移登记']],
  };
  let rows;
  if (level === 'hour_weekday') {
    rows = [];
    for (let d = 1; d <= 7; d++) {
      for (let hr = 8; hr <= 17; hr++) {
        const peak = hr === 12 ? 0.3 : (hr >= 9 && hr <= 11) || (hr >= 14 && hr <= 16) ? 1 : 0.5;
        const x = row(`${d}-${hr}`, `${d}-${hr}`, r, d >= 6 ? 0.15 * peak : peak * 0.5);
        rows.push(x);
      }
    }
  } else {
    rows = (names[level] || names.window).map(([k, n]) => row(k, n, r, level === 'network' ? 12 : level === 'tier' ? 4 : 1));
  }
  if (params.compare) for (const x of rows) x.previous = { ...row(x.key, x.name, r, 0.9), previous: undefined };
  return { level, from: params.from, to: params.to, previous: params.compare ? { from: params.from, to: params.to } : null, columns: Object.keys(rows[0]), rows };
}

export function distributionFixture(metric) {
  const r = rng(metric === 'wait' ? 3 : 5);
  const buckets = [];
  for (let i = 0; i < 12; i++) {
    const mid = metric === 'wait' ? 3 : 4;
    buckets.push({ from_s: i * 300, to_s: (i + 1) * 300, count: Math.round(400 * Math.exp(-((i - mid) ** 2) / 8) + r() * 20) });
  }
  return { metric, buckets };
}
