// A namespace's dead letters: the calls that failed for good, newest first; each replayed
// (one more attempt of the same delivery) or discarded.

import { h, replace } from '../dom.js';
import { letters } from '../api.js';
import { href } from '../router.js';
import { targetSummary, when } from '../format.js';
import { confirm, errorBox, loading, pageHeader, run, table } from '../ui.js';

/** Replays a letter; resolves with the API's answer, or undefined when it failed. */
export function replay(ns, letter, button, errors) {
  return run(button, () => letters.replay(ns, letter.id), {
    errors,
    title: 'The replay was refused',
    success: ({ data }) => `Replay sent: attempt ${data.attempt} of ${data.delivery_id}; its outcome goes to the timer's executions`,
  });
}

/** Discards a letter once confirmed; resolves true when it is gone. */
export async function discard(ns, letter, button, errors) {
  const yes = await confirm({
    title: 'Discard this dead letter?',
    message: `The failed delivery ${letter.delivery_id} of timer ${letter.timer} leaves the list for good (the timer and its log are unchanged).`,
    action: 'Discard',
  });
  if (!yes) return false;
  const done = await run(button, () => letters.discard(ns, letter.id), { errors, title: 'The letter could not be discarded', success: 'Dead letter discarded' });
  return done !== undefined;
}

/** How a letter's last attempt ended: its status (unless the error says it), its error. */
function lastAttempt({ last_attempt: a }) {
  const status = a.status_code ? `HTTP ${a.status_code}` : null;
  return h('span', {},
    status && status !== a.error ? `${status} ` : '',
    a.error ? h('span', { class: 'bad' }, a.error) : null,
    h('span', { class: 'muted small' }, ` attempt #${a.attempt}`));
}

export async function render(view) {
  const { ns } = view.params;
  view.title(`Dead letters · ${ns}`);
  const errors = h('div', { class: 'errors' });
  const results = h('div', {}, loading());
  const refresh = h('button', { type: 'button', class: 'secondary', onclick: () => load() }, 'Refresh');
  replace(view.main,
    pageHeader('Dead letters', {
      subtitle: `Namespace ${ns}: calls that failed for good, kept 7 days with what was called and the last attempt`,
      actions: [refresh],
    }),
    errors, results);

  async function load() {
    try {
      const { data } = await letters.list(ns, { limit: 1000 });
      replace(results, table({
        caption: `Dead letters of ${ns}, newest failure first`,
        columns: [
          ['Failed', (l) => when(l.failed_at)],
          ['Timer', (l) => h('a', { class: 'mono', href: href.timer(ns, l.timer) }, l.timer)],
          ['Delivery', (l) => h('span', { class: 'mono small break' }, l.delivery_id)],
          ['Target', (l) => h('span', { class: 'mono small break' }, targetSummary(l.request))],
          ['Last attempt', lastAttempt],
          ['Replays', (l) => String(l.replays ?? 0)],
          ['Actions', (l) => h('div', { class: 'row-actions' },
            h('a', { class: 'button secondary small', href: href.letter(ns, l.id), 'aria-label': `Inspect the letter of ${l.timer}` }, 'Inspect'),
            h('button', { type: 'button', class: 'secondary small', 'aria-label': `Replay the letter of ${l.timer}`, onclick: (e) => replay(ns, l, e.currentTarget, errors).then(load) }, 'Replay'),
            h('button', { type: 'button', class: 'danger small', 'aria-label': `Discard the letter of ${l.timer}`, onclick: (e) => discard(ns, l, e.currentTarget, errors).then((gone) => gone && load()) }, 'Discard'))],
        ],
        rows: data.items,
        empty: 'No dead letters: no call in this namespace has failed for good lately.',
      }));
    } catch (e) {
      replace(results, errorBox(e, { title: 'The dead letters could not be listed' }));
    }
  }
  await load();
}
