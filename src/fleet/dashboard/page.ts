// The dashboard's HTML: the whole page, and the parts the page's script swaps in when they
// change (fleet grid, running deploy, deploy list, host details). Every value from hosts,
// journals or fleet.yml goes through the `html` template, which escapes it.
import { counted } from '../../common/counted.js';
import { hostStates } from '../rollout/host-state.js';
import type { DeployRun } from './deploy-files.js';
import type { FleetView, Marker, VersionKey } from './fleet-view.js';
import type { HostDetail } from './host-view.js';
import { Html, html } from './html.js';
import { script, style } from './page-assets.js';

// Constants of this program, not data: they pass unescaped (and contain no `</`).
const assets = { style: new Html(style), script: new Html(script) };

export function page(options: {
  app: string;
  nonce: string;
  title?: string;
  live: boolean;
  body: Html[];
}): Html {
  const title = options.title ?? `${options.app}: fleet`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>
${options.live ? html`<noscript><meta http-equiv="refresh" content="10"></noscript>` : ''}
<style nonce="${options.nonce}">${assets.style}</style>
</head><body>
<header><h1>${title}</h1></header>
<main>${options.body}</main>
<script nonce="${options.nonce}">${assets.script}</script>
</body></html>
`;
}

const markerWords: Record<Marker, [cls: string, words: string]> = {
  drift: ['c k0 d', 'drift (round): not on the version most hosts run'],
  failed: ['c k0 f', 'failed in its last deploy (thick border)'],
  locked: ['c k0 l', 'locked (dashed outline)'],
  unreachable: ['c u', 'unreachable (striped)'],
  moving: ['c k0 m', 'moving in the running deploy (fading)'],
};

function legend(keys: readonly VersionKey[], markers: Record<Marker, number> | undefined): Html {
  return html`<ul class="legend">${keys.map(
    (key) =>
      html`<li><span class="${key.cls} c" aria-hidden="true"></span><span><span data-version="${key.label}">${key.label}</span>: <span data-count>${key.count}</span></span></li>`,
  )}${
    markers
      ? (Object.keys(markerWords) as Marker[])
          .filter((m) => m !== 'unreachable' && markers[m] > 0)
          .map(
            (m) =>
              html`<li><span class="${markerWords[m][0]}" aria-hidden="true"></span><span><span data-marker="${m}">${markerWords[m][1]}</span>: ${markers[m]}</span></li>`,
          )
      : ''
  }</ul>`;
}

export function fleetPart(view: FleetView, refreshing: boolean): Html {
  const gathered = view.gatheredAt
    ? html`status gathered ${view.gatheredAt} in ${((view.tookMs ?? 0) / 1000).toFixed(1)} s`
    : html`gathering status from the hosts…`;
  const drift = view.markers.drift;
  return html`<section id="fleet" aria-labelledby="fleet-h">
<h2 id="fleet-h">Fleet</h2>
<p class="muted">${gathered}${refreshing && view.gatheredAt ? ' (gathering again…)' : ''} · <a href="/refresh">gather now</a> ·
${view.expected ? html`most hosts run <strong>${view.expected}</strong>; ${drift === 0 ? 'no drift' : `${counted(drift, 'host')} drifted`}` : ''}</p>
${legend(view.versions, view.markers)}
${view.dcs.map(
  (
    dc,
  ) => html`<h3 id="dc-${dc.name}">${dc.name} <span class="muted">(${counted(dc.cells.length, 'host')})</span></h3>
${legend(dc.versions, undefined)}
<div class="g" role="group" aria-labelledby="dc-${dc.name}" data-dc="${dc.name}">${dc.cells.map(
    (cell) =>
      html`<a class="${cell.cls}" href="/hosts/${encodeURIComponent(cell.name)}" title="${cell.title}" data-version="${cell.label}"></a>`,
  )}</div>`,
)}
</section>`;
}

export function livePart(live: DeployRun | undefined): Html {
  if (!live) return html`<section id="live"><p class="muted">No deploy is running.</p></section>`;
  // `unchanged` is only in a rollback's report (its journal never records a host it left alone).
  const columns = hostStates.filter((state) => state !== 'unchanged');
  const total = (state: (typeof columns)[number]) => live.dcs.reduce((sum, dc) => sum + dc.states[state], 0);
  return html`<section id="live" aria-labelledby="live-h" aria-live="polite">
<h2 id="live-h">${live.action} ${live.version}: <span data-phase>${live.phase}</span></h2>
<p class="muted">${live.id} by ${live.owner}, started ${live.startedAt}; journal last written ${live.touchedAt} (no end record yet: running, or its controller stopped — <code>pier deploy --resume</code> continues it)</p>
<table><thead><tr><th>dc</th><th class="num">hosts</th>${columns.map((c) => html`<th class="num">${c}</th>`)}</tr></thead>
<tbody>${live.dcs.map(
    (dc) =>
      html`<tr data-dc="${dc.dc}"><td>${dc.dc}</td><td class="num">${dc.hosts}</td>${columns.map((c) => html`<td class="num" data-state="${c}">${dc.states[c]}</td>`)}</tr>`,
  )}<tr data-dc=""><th>total</th><th class="num">${live.hosts.length}</th>${columns.map((c) => html`<th class="num" data-state="${c}">${total(c)}</th>`)}</tr></tbody></table>
${failuresOf(live)}
</section>`;
}

function failuresOf(run: DeployRun): Html {
  if (run.failures.length === 0) return html``;
  return html`<h3>Failures</h3>${run.failures.map(
    (group) =>
      html`<div class="fail"><strong>${counted(group.hosts.length, 'host')}</strong>: <code data-failure>${group.message}</code><br><span class="muted">${group.hosts.slice(0, 20).join(', ')}${group.hosts.length > 20 ? `, … (${group.hosts.length - 20} more)` : ''}</span></div>`,
  )}`;
}

export function deploysPart(runs: readonly DeployRun[]): Html {
  const count = (run: DeployRun, state: string) => run.hosts.filter((h) => h.state === state).length;
  return html`<section id="deploys" aria-labelledby="deploys-h"><h2 id="deploys-h">Deploys</h2>
${
  runs.length === 0
    ? html`<p class="muted">None yet in .pier/deploys/.</p>`
    : html`<table><thead><tr><th>started</th><th>run</th><th>outcome</th><th class="num">hosts</th><th class="num">healthy</th><th class="num">failed</th><th>by</th><th>id</th></tr></thead><tbody>${runs.map(
        (run) =>
          html`<tr><td>${run.startedAt}</td><td>${run.action} ${run.version}</td><td>${run.outcome ?? 'no end yet'}${run.halt ? ` (${run.halt})` : ''}</td><td class="num">${run.hosts.length}</td><td class="num">${count(run, 'healthy')}</td><td class="num">${count(run, 'failed')}</td><td>${run.owner}</td><td><a href="/api/deploys/${encodeURIComponent(run.id)}">${run.id}</a></td></tr>`,
      )}</tbody></table>`
}
</section>`;
}

export function hostPart(detail: HostDetail | undefined): Html {
  if (!detail)
    return html`<section id="detail" tabindex="-1"><p class="muted">Choose a host's cell for its details.</p></section>`;
  const run = detail.lastRun;
  return html`<section id="detail" tabindex="-1" aria-labelledby="detail-h"><h2 id="detail-h">${detail.name}</h2>
<dl>
<dt>data center</dt><dd>${detail.dc}</dd>
<dt>address</dt><dd>${detail.address}</dd>
<dt>current</dt><dd>${detail.gathered ? (detail.unreachable ? 'unknown (unreachable)' : (detail.current ?? '(none)')) : 'status not gathered yet'}</dd>
<dt>previous</dt><dd>${detail.previous ?? '-'}</dd>
<dt>releases on disk</dt><dd>${detail.releases.join(', ') || '-'}</dd>
${detail.lock ? html`<dt>locked</dt><dd>by ${detail.lock}</dd>` : ''}
${detail.unreachable ? html`<dt>unreachable</dt><dd><code data-failure>${detail.unreachable}</code></dd>` : ''}
<dt>last deploy</dt><dd>${run ? html`${run.action} ${run.version} (${run.id}): <strong>${run.state}</strong>${run.outcome ? `, run ${run.outcome}` : ', run has no end yet'}` : '-'}</dd>
${run?.error ? html`<dt>failure</dt><dd><code data-failure>${run.error}</code>${run.code ? html` <span class="muted">${run.code}</span>` : ''}</dd>` : ''}
</dl>
<h3>revisions.log</h3>
${
  detail.revisions.length === 0
    ? html`<p class="muted">no lines</p>`
    : html`<pre>${detail.revisions.map(
        (r) =>
          `${r.at} deploy=${r.deploy} action=${r.action} version=${r.version} previous=${r.previous ?? '-'} result=${r.result} by=${r.by}\n`,
      )}</pre>`
}
</section>`;
}
