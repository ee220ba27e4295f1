// One dead letter: what was called (credentials redacted, secrets masked) and how its last
// attempt ended, with the start of the answer; replayed or discarded from here.

import { h, replace } from '../dom.js';
import { letters } from '../api.js';
import { go, href } from '../router.js';
import { millis, when } from '../format.js';
import { badge, errorBox, facts, jsonBlock, loading, pageHeader, section } from '../ui.js';
import { discard, replay } from './letters.js';

export async function render(view) {
  const { ns, id } = view.params;
  view.title(`Dead letter · ${ns}`);
  const errors = h('div', { class: 'errors' });
  const body = h('div', {}, loading());
  const head = h('div', {}, pageHeader('Dead letter', { subtitle: `Namespace ${ns}` }));
  replace(view.main, head, errors, body);

  async function load() {
    let letter;
    try {
      letter = (await letters.get(ns, id)).data;
    } catch (e) {
      replace(body, errorBox(e, { title: e.status === 404 ? 'No such dead letter (replayed with success, or discarded)' : 'The letter could not be read' }),
        h('p', {}, h('a', { href: href.letters(ns) }, 'Back to the dead letters')));
      return;
    }
    const a = letter.last_attempt;
    replace(head, pageHeader(`Dead letter of ${letter.timer}`, {
      subtitle: `Namespace ${ns} · delivery ${letter.delivery_id}`,
      actions: [
        h('button', { type: 'button', class: 'primary', onclick: (e) => replay(ns, letter, e.currentTarget, errors).then(load) }, 'Replay'),
        h('button', { type: 'button', class: 'danger', onclick: (e) => discard(ns, letter, e.currentTarget, errors).then((gone) => gone && go(href.letters(ns))) }, 'Discard'),
        h('a', { class: 'button secondary', href: href.timer(ns, letter.timer) }, 'Open the timer'),
      ],
    }));
    const attempt = section('Last attempt');
    replace(attempt.body, facts([
      ['Outcome', badge(a.outcome, 'outcome')],
      ['Status code', a.status_code ? String(a.status_code) : '—'],
      ['Error', a.error ? h('span', { class: 'bad' }, a.error) : '—'],
      ['Response', a.response ? h('pre', { class: 'excerpt' }, a.response) : '—'],
      ['Attempt', `#${a.attempt} of occurrence ${a.occurrence}`],
      ['Started', when(a.started_at, { ms: true })],
      ['Latency', millis(a.latency_ms)],
      ['Failed', when(letter.failed_at)],
      ['Replays', String(letter.replays ?? 0)],
      ['Delivery id', h('span', { class: 'mono break' }, letter.delivery_id)],
    ]));
    const request = section('What was called');
    replace(request.body, h('p', { class: 'hint' }, 'Credentials in the URL are redacted and secret headers masked.'), jsonBlock(letter.request, 'What was called'));
    replace(body, h('div', { class: 'grid two' }, attempt.el, request.el));
  }
  await load();
}
