/** The page of `aqevent demo --web`: the demo's person table, live, through /client.js. */
export function demoPage(table: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>aqevent demo: ${table}, live</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 44rem; color: #1d2330; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  p { color: #5a6275; margin-top: 0; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
  th, td { text-align: left; padding: .45rem .8rem; border-bottom: 1px solid #e3e6ee; }
  th { background: #f4f6fa; font-weight: 600; }
  tr.changed td { animation: flash 1.5s ease-out; }
  @keyframes flash { from { background: #fff3b0; } to { background: transparent; } }
  #status { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; background: #eef; font-size: .85rem; }
  #status.live { background: #dff5e1; color: #17652a; }
  #status.reconnecting, #status.connecting { background: #fff1d6; color: #7a5200; }
  #status.error { background: #fde2e2; color: #8a1c1c; }
  #log { font: 12px ui-monospace, monospace; color: #5a6275; white-space: pre-wrap; margin-top: 1rem; }
</style>
</head>
<body>
<h1><code>${table}</code>, live</h1>
<p>Change it from psql and watch: <span id="status">connecting</span></p>
<table id="rows"></table>
<div id="log"></div>
<script type="module">
  import { liveTable, bindTable } from '/client.js';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;
  const statusEl = document.getElementById('status');
  const log = document.getElementById('log');
  let render;
  const live = liveTable({
    url: '', token, table: ${JSON.stringify(table)},
    onStatus: (status, detail) => { statusEl.textContent = detail ? status + ': ' + detail : status; statusEl.className = status; },
    onChange: (change) => {
      render?.(change);
      if (change.event) {
        log.textContent = '#' + change.event.id + ' ' + change.event.operation + ' ' + JSON.stringify(change.event.payload) + '\\n' + log.textContent.split('\\n').slice(0, 5).join('\\n');
        const tr = document.querySelector('tr[data-key="' + CSS.escape(change.key ?? '') + '"]');
        if (tr) { tr.classList.remove('changed'); void tr.offsetWidth; tr.classList.add('changed'); }
      }
    },
  });
  render = bindTable(live, document.getElementById('rows'));
  window.aqeventLive = live;
</script>
</body>
</html>
`;
}
