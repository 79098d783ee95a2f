// The /dashboard page: one self-contained HTML document (no build step, no library), which
// listens to /dashboard/stream (server-sent events, one snapshot a second) and draws tables and
// SVG sparklines of the last minute. The access token, when one is needed, comes in the page's
// own query string (`?token=`) and is passed on to the stream.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Strand dashboard</title>
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #1d2430; background: #f6f7f9; }
  h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 18px 0 6px; }
  .muted { color: #6b7280; } .panel { background: #fff; border: 1px solid #e3e6eb; border-radius: 6px; padding: 10px 14px; margin-bottom: 12px; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef0f3; vertical-align: middle; }
  th { font-weight: 600; color: #4b5563; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  svg.spark { width: 140px; height: 22px; } svg.spark polyline { fill: none; stroke: #2563eb; stroke-width: 1.5; }
  .speaking { color: #059669; font-weight: 600; } .q-poor, .q-lost { color: #dc2626; } .q-good { color: #d97706; } .q-excellent { color: #059669; }
</style>
</head>
<body>
<h1>Strand</h1>
<div class="muted" id="status">connecting…</div>
<h2>Media workers</h2>
<div class="panel"><table id="workers"><thead><tr><th>worker</th><th>participants</th><th class="num">CPU %</th><th></th>
<th class="num">packets/s in</th><th class="num">packets/s out</th><th></th><th class="num">ring drops</th></tr></thead><tbody></tbody></table></div>
<div id="services"></div>
<h2>Rooms</h2>
<div id="rooms"><div class="panel muted">no rooms</div></div>
<script>
const HISTORY = 60;
const history = new Map();
function remember(key, value) {
  let h = history.get(key);
  if (!h) { h = []; history.set(key, h); }
  h.push(value);
  if (h.length > HISTORY) h.shift();
  return h;
}
function spark(values) {
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => (i * 140 / (HISTORY - 1)).toFixed(1) + ',' + (21 - (v / max) * 20).toFixed(1)).join(' ');
  return '<svg class="spark" viewBox="0 0 140 22"><polyline points="' + pts + '"/></svg>';
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const kbps = (b) => (b / 1000).toFixed(0) + ' kbit/s';
function render(s) {
  document.getElementById('status').textContent = 'updated ' + new Date(s.time).toLocaleTimeString() + ' · ' + s.rooms.length + ' room(s)';
  document.querySelector('#workers tbody').innerHTML = s.workers.map((w) => {
    const cpu = remember('cpu' + w.slot, w.cpuPercent);
    const out = remember('out' + w.slot, w.packetsOutPerSecond);
    return '<tr data-worker="' + w.slot + '"><td>' + w.slot + '</td><td>' + w.participants + '</td><td class="num">' + w.cpuPercent.toFixed(1) + '</td><td>' + spark(cpu)
      + '</td><td class="num">' + Math.round(w.packetsInPerSecond) + '</td><td class="num">' + Math.round(w.packetsOutPerSecond) + '</td><td>' + spark(out)
      + '</td><td class="num">' + w.ringDrops + '</td></tr>';
  }).join('');
  const services = [];
  if (s.egress) services.push('<b>egress</b> ' + (Object.entries(s.egress).map(([k, v]) => esc(k) + ' ' + v).join(', ') || 'none running'));
  if (s.ingress) services.push('<b>ingress</b> ' + (Object.entries(s.ingress).map(([k, v]) => esc(k) + ' ' + v).join(', ') || 'none publishing'));
  document.getElementById('services').innerHTML = services.length ? '<h2>Egress and ingress</h2><div class="panel">' + services.join('<br>') + '</div>' : '';
  document.getElementById('rooms').innerHTML = s.rooms.length === 0 ? '<div class="panel muted">no rooms</div>' : s.rooms.map((r) => {
    const rows = r.participants.flatMap((p) => {
      const who = '<td rowspan="' + Math.max(1, p.tracks.length) + '" data-participant="' + esc(p.identity) + '"><b>' + esc(p.identity) + '</b> <span class="muted">'
        + esc(p.state.toLowerCase()) + (p.node !== 'here' ? ' · on ' + esc(p.node) : '') + '</span>'
        + (p.speaking > 0 ? ' <span class="speaking">speaking ' + p.speaking.toFixed(2) + '</span>' : '')
        + (p.quality ? ' <span class="q-' + p.quality + '">' + p.quality + '</span>' : '') + '</td>';
      if (p.tracks.length === 0) return ['<tr>' + who + '<td colspan="5" class="muted">no tracks</td></tr>'];
      return p.tracks.map((t, i) => {
        const h = remember('track' + t.sid, t.bitrate);
        return '<tr data-track="' + esc(t.sid) + '" data-kind="' + t.kind + '" data-bitrate="' + Math.round(t.bitrate) + '">' + (i === 0 ? who : '')
          + '<td>' + t.kind + ' <span class="muted">' + esc(t.source) + (t.muted ? ' · muted' : '') + '</span></td>'
          + '<td class="num">' + kbps(t.bitrate) + '</td><td>' + spark(h) + '</td><td class="num">' + t.lossPercent.toFixed(2) + ' % lost</td>'
          + '<td class="muted">' + esc(t.sid) + '</td></tr>';
      });
    }).join('');
    return '<div class="panel" data-room="' + esc(r.name) + '"><b>' + esc(r.name) + '</b> <span class="muted">' + esc(r.sid) + ' · ' + r.participants.length
      + ' participant(s)</span><table><thead><tr><th>participant</th><th>track</th><th class="num">bitrate</th><th></th><th class="num">loss</th><th>sid</th></tr></thead><tbody>'
      + rows + '</tbody></table></div>';
  }).join('');
}
const stream = new EventSource('/dashboard/stream' + location.search);
stream.onmessage = (e) => render(JSON.parse(e.data));
stream.onerror = () => { document.getElementById('status').textContent = 'disconnected: retrying…'; };
</script>
</body>
</html>
`;
