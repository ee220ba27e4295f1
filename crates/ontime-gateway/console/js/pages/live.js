// Live figures of this process, from /metrics every few seconds: call and failure rates,
// how late calls start and how long they take (percentiles from the histograms), what is in
// flight, and the last three minutes as small charts.

import { h, svg, replace } from '../dom.js';
import { live, PERIOD_MS } from '../metrics.js';
import { count, millis, plural, rate } from '../format.js';
import { badge, errorBox, pageHeader, table } from '../ui.js';

/** A chart of the last values of `pick` over the history; nothing until there are two. */
function sparkline(history, pick, label) {
  const values = history.map(pick).filter((v) => v !== null && v !== undefined);
  if (values.length < 2) return h('div', { class: 'spark empty' });
  const width = 160;
  const height = 36;
  const max = Math.max(...values) || 1;
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(' ');
  return svg('svg', { class: 'spark', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `${label}, last ${values.length} readings, at most ${max.toPrecision(3)}` },
    svg('polyline', { points, fill: 'none', stroke: 'currentColor', 'stroke-width': '1.5', 'vector-effect': 'non-scaling-stroke' }));
}

/** One figure: its name, its value (also in `data-value`, raw), a line under it, a chart. */
function figure(name, value, raw, { note, chart, warn = false } = {}) {
  return h('div', { class: ['figure', warn && 'warn'], role: 'group', 'aria-label': name },
    h('div', { class: 'figure-name' }, name),
    h('div', { class: 'figure-value', dataset: { value: raw ?? '' } }, value),
    note ? h('div', { class: 'figure-note' }, note) : null,
    chart);
}

/** Percentiles as one figure: p50, p90 and p99 side by side (each also in `data-value`). */
function percentiles(name, { p, when }, chart) {
  return h('div', { class: 'figure wide', role: 'group', 'aria-label': name },
    h('div', { class: 'figure-name' }, name),
    h('div', { class: 'quantiles' }, [['p50', p.p50], ['p90', p.p90], ['p99', p.p99]].map(([label, value]) =>
      h('div', { class: 'quantile', role: 'group', 'aria-label': `${name} ${label}` },
        h('span', { class: 'quantile-label' }, label),
        h('span', { class: 'figure-value', dataset: { value: value ?? '' } }, millis(value))))),
    h('div', { class: 'figure-note' }, when),
    chart);
}

/** The percentiles of the last interval, or since the start when nothing happened in it. */
function latest(p, seconds) {
  if (p.recent.samples) return { p: p.recent, when: `over the last ${Math.round(seconds ?? PERIOD_MS / 1000)} s (${plural(p.recent.samples, 'call')})` };
  if (p.overall.samples) return { p: p.overall, when: `since the process started (${plural(p.overall.samples, 'call')}; none lately)` };
  return { p: p.overall, when: 'no call yet' };
}

export async function render(view) {
  view.title('Live figures');
  const body = h('div', { class: 'live' });
  replace(view.main,
    pageHeader('Live figures', { subtitle: `This process's /metrics, read every ${PERIOD_MS / 1000} s; rates are the difference between two readings.` }),
    body);
  view.onLeave(live.subscribe(({ latest: now, history, error }) => {
    if (!now) {
      replace(body, error ? errorBox(error, { title: '/metrics could not be read' }) : h('p', { class: 'loading' }, 'Reading /metrics…'));
      return;
    }
    const lateness = latest(now.lateness, now.seconds);
    const latency = latest(now.latency, now.seconds);
    const fireLateness = latest(now.fireLateness, now.seconds);
    const calls = now.totals.attempts ?? 0;
    replace(body,
      error ? errorBox(error, { title: 'The last reading failed; the figures shown are older' }) : null,
      now.worker ? null : h('p', { class: 'notice' }, 'No call made by this process yet. (A gateway running apart from its workers has no call figures: read the workers\' own /metrics, on --metrics-http.)'),
      h('div', { class: 'figures' },
        figure('Calls per second', rate(now.callsPerSecond ?? 0), now.callsPerSecond, { note: 'attempts started', chart: sparkline(history, (f) => f.callsPerSecond, 'Calls per second') }),
        figure('Failed calls per second', rate(now.failedPerSecond ?? 0), now.failedPerSecond, {
          note: 'attempts that failed: retried or for good', warn: now.failedPerSecond > 0,
          chart: sparkline(history, (f) => f.failedPerSecond, 'Failed calls per second'),
        }),
        figure('In flight', count(now.inFlight ?? 0), now.inFlight ?? 0, { note: 'attempts being made now', chart: sparkline(history, (f) => f.inFlight, 'In flight') }),
        figure('Calls since start', count(calls), calls, { note: plural(now.totals.failed ?? 0, 'failed attempt') }),
        figure('Dead letters since start', count(now.totals.deadLetters ?? 0), now.totals.deadLetters ?? 0, { note: 'calls that failed for good', warn: now.totals.deadLetters > 0 })),
      h('div', { class: 'figures two' },
        percentiles('Lateness', { ...lateness, when: `how late first attempts started after their due instant, ${lateness.when}` }, sparkline(history, (f) => f.lateness.recent.p99, 'Lateness p99')),
        percentiles('Call latency', { ...latency, when: `how long each call took, ${latency.when}` }, sparkline(history, (f) => f.latency.recent.p99, 'Call latency p99'))),
      h('div', { class: 'figures' },
        figure('Fires per second', rate(now.firesPerSecond ?? 0), now.firesPerSecond, {
          note: `${plural(now.queueDepth ?? 0, 'wake-up')} queued; fire lateness p99 ${millis(fireLateness.p.p99)}`,
          chart: sparkline(history, (f) => f.firesPerSecond, 'Fires per second'),
        }),
        figure('Commands per second', rate(now.commandsPerSecond ?? 0), now.commandsPerSecond, {
          note: `${count(now.totals.commands ?? 0)} handled since start`,
          chart: sparkline(history, (f) => f.commandsPerSecond, 'Commands per second'),
        }),
        now.wakeUpsPending === null ? null : figure('Pending wake-ups', count(now.wakeUpsPending), now.wakeUpsPending, {
          note: 'stored in NATS: about one per pending timer',
          chart: sparkline(history, (f) => f.wakeUpsPending, 'Pending wake-ups'),
        }),
        now.callsPending === null ? null : figure('Calls not yet settled', count(now.callsPending), now.callsPending, {
          note: 'stored, waiting for a worker or being made',
          chart: sparkline(history, (f) => f.callsPending, 'Calls not yet settled'),
        }),
        now.flowWaiting === null ? null : figure('Waiting under flow limits', count(now.flowWaiting), now.flowWaiting, {
          note: `calls waiting for their turn now; wait p99 ${millis(latest(now.flowWait, now.seconds).p.p99)}`,
          chart: sparkline(history, (f) => f.flowWaiting, 'Waiting under flow limits'),
        })),
      h('section', { class: 'card', 'aria-labelledby': 'by-outcome' },
        h('h2', { id: 'by-outcome' }, 'Attempts since start, by outcome'),
        table({
          columns: [
            ['Outcome', (r) => badge(r.outcome, 'outcome')],
            ['Status class', (r) => r.statusClass],
            ['Attempts', (r) => count(r.count)],
          ],
          rows: now.byOutcome,
          empty: 'No attempt yet.',
        })));
  }));
}
