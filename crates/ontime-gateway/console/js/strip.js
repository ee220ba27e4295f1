// The live strip under the header: the few figures an operator glances at, on every page.

import { h, replace, show } from './dom.js';
import { live } from './metrics.js';
import { millis, rate } from './format.js';
import { href } from './router.js';

/** Fills `el` with the live figures until the returned function is called. */
export function attach(el) {
  show(el, true);
  replace(el, h('span', { class: 'muted' }, 'Live figures…'));
  return live.subscribe(({ latest, error }) => {
    if (error && !latest) {
      replace(el, h('span', { class: 'muted' }, `Live figures unavailable: ${error.message}`));
      return;
    }
    if (!latest) return;
    const late = latest.lateness.recent.samples ? latest.lateness.recent : latest.lateness.overall;
    const item = (label, value, warn = false) => h('span', { class: ['item', warn && 'warn'] }, h('span', { class: 'label' }, label), ' ', h('strong', {}, value));
    replace(el,
      h('span', { class: 'strip-title' }, 'Live'),
      item('calls/s', rate(latest.callsPerSecond ?? 0)),
      item('failed/s', rate(latest.failedPerSecond ?? 0), latest.failedPerSecond > 0),
      item('lateness p50', millis(late.p50)),
      item('p99', millis(late.p99)),
      item('in flight', String(latest.inFlight ?? 0)),
      error ? h('span', { class: 'item warn' }, 'stale: ', error.message) : null,
      h('a', { href: href.live() }, 'Live figures →'));
  });
}
