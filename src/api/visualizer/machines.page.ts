import type { LiveActorView } from '../../connections/inspection.js';

/** One drawn machine: its name and its SVG chart. */
export interface DrawnMachine {
  name: 'connection' | 'supervisor';
  svg: string;
}

/**
 * The visualizer page: the charts, one card per live actor with its chart (current state
 * highlighted), context and recent transitions, updated live from the SSE stream. Everything
 * is inline: the page works with no network beyond this server.
 */
export function renderMachinesPage(machines: DrawnMachine[], actors: LiveActorView[]): string {
  const charts = machines
    .map(
      (machine) =>
        `<section class="machine"><h2>${machine.name} machine</h2>${machine.svg}</section>` +
        `<template id="chart-${machine.name}">${machine.svg}</template>`,
    )
    .join('');
  const initial = JSON.stringify(actors).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sitewire · machines</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<header><h1>sitewire machines</h1><span id="stream-status">connecting…</span>
<nav><a href="/admin/queues">queues</a> · <a href="/docs">API docs</a></nav></header>
<main>
<section><h2>Live actors</h2><p id="no-actors">No live actors.</p><div id="actors"></div></section>
${charts || '<p>No machine definitions were given to this server.</p>'}
</main>
<script id="initial-actors" type="application/json">${initial}</script>
<script>${SCRIPT}</script>
</body></html>`;
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.2rem;background:#1d2330;
color:#fff}
header h1{font-size:1.1rem;margin:0} header a{color:#9cc3ff} main{padding:1rem 1.2rem}
#stream-status{font-size:.8rem;opacity:.8}
.actor{background:#fff;border:1px solid #d5d9e0;border-radius:8px;margin:0 0 1rem;padding:.8rem}
.actor.stopped{opacity:.55}
.actor h3{margin:0 0 .4rem;font-size:1rem} .state-value{font-weight:700;color:#0a58ca}
.actor .body{display:flex;gap:1.2rem;flex-wrap:wrap;align-items:flex-start}
.chart-box{overflow:auto;max-width:100%}
dl{display:grid;grid-template-columns:auto auto;gap:.2rem .8rem;margin:0;font-size:.85rem}
dt{color:#5b6475} dd{margin:0;font-family:ui-monospace,monospace}
ol.transitions{font-size:.8rem;margin:0;padding-left:1.2rem;max-height:14rem;overflow:auto}
ol.transitions .reason{color:#5b6475}
svg.chart{background:#fff;font-size:12px}
svg.chart .state rect{fill:#eef1f6;stroke:#8893a5;stroke-width:1.2}
svg.chart .state.initial rect{stroke-width:2.4}
svg.chart .state.active rect{fill:#0a58ca;stroke:#06357a}
svg.chart .state.active text{fill:#fff;font-weight:700}
svg.chart .edge path{fill:none;stroke:#9aa3b2;stroke-width:1.2}
svg.chart .edge text{fill:#5b6475;font-size:10px}
svg.chart marker path{fill:#9aa3b2}
.machine{margin-top:1.5rem}`;

const SCRIPT = `
'use strict';
var actors = new Map();
function paths(value, prefix) {
  prefix = prefix || '';
  if (typeof value === 'string') return [prefix ? prefix + '.' + value : value];
  if (!value || typeof value !== 'object') return [];
  return Object.keys(value).reduce(function (all, key) {
    var path = prefix ? prefix + '.' + key : key;
    return all.concat([path], paths(value[key], path));
  }, []);
}
function text(tag, value, className) {
  var el = document.createElement(tag);
  el.textContent = value;
  if (className) el.className = className;
  return el;
}
function chart(actor) {
  var template = document.getElementById('chart-' + actor.machine);
  var box = document.createElement('div');
  box.className = 'chart-box';
  if (!template) return box;
  box.appendChild(template.content.cloneNode(true));
  var active = paths(actor.state);
  box.querySelectorAll('[data-state]').forEach(function (node) {
    node.classList.toggle('active', active.indexOf(node.getAttribute('data-state')) >= 0);
  });
  return box;
}
function context(actor) {
  var dl = document.createElement('dl');
  Object.keys(actor.context || {}).forEach(function (key) {
    var value = actor.context[key];
    dl.appendChild(text('dt', key));
    dl.appendChild(text('dd', value === null || value === undefined ? '—' :
      typeof value === 'object' ? JSON.stringify(value) : String(value), 'ctx-' + key));
  });
  return dl;
}
function transitions(actor) {
  var list = document.createElement('ol');
  list.className = 'transitions';
  (actor.transitions || []).slice().reverse().forEach(function (t) {
    var item = text('li', t.at + ' ' + t.event + ': ' + t.from + ' → ' + t.to + ' ');
    if (t.reason) item.appendChild(text('span', t.reason, 'reason'));
    list.appendChild(item);
  });
  return list;
}
function render(actor) {
  var card = document.createElement('article');
  card.className = 'actor' + (actor.stopped ? ' stopped' : '');
  card.setAttribute('data-actor-id', actor.actorId);
  card.setAttribute('data-state-value', paths(actor.state).join(' '));
  var site = actor.siteId !== undefined ? ' · site ' + actor.siteId : '';
  var title = text('h3', actor.actorId + site + ' — ');
  title.appendChild(text('span', paths(actor.state).slice(-1)[0] || '?', 'state-value'));
  if (actor.stopped) title.appendChild(text('span', ' (stopped)', 'stopped-mark'));
  card.appendChild(title);
  var body = document.createElement('div');
  body.className = 'body';
  body.appendChild(chart(actor));
  body.appendChild(context(actor));
  body.appendChild(transitions(actor));
  card.appendChild(body);
  return card;
}
function upsert(actor) {
  actors.set(actor.actorId, actor);
  var container = document.getElementById('actors');
  var fresh = render(actor);
  var old = container.querySelector('[data-actor-id="' + CSS.escape(actor.actorId) + '"]');
  if (old) container.replaceChild(fresh, old); else container.appendChild(fresh);
  document.getElementById('no-actors').hidden = actors.size > 0;
}
function follow() {
  var status = document.getElementById('stream-status');
  var source = new EventSource('/debug/machines/stream');
  source.onopen = function () { status.textContent = 'live'; document.body.dataset.live = 'true'; };
  source.onerror = function () { status.textContent = 'reconnecting…'; };
  source.onmessage = function (message) { upsert(JSON.parse(message.data)); };
}
JSON.parse(document.getElementById('initial-actors').textContent).forEach(upsert);
follow();`;
