// One topic and its subscribers (an HTTP request or a NATS message each, with its own retry
// policy if it has one); subscribers added and removed here.

import { h, field, replace, show } from '../dom.js';
import { topics } from '../api.js';
import { go, href } from '../router.js';
import { targetSummary, when } from '../format.js';
import { chips, confirm, errorBox, facts, loading, pageHeader, pager, run, section, table } from '../ui.js';

const METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'];

export async function render(view) {
  const { ns, topic } = view.params;
  const cursor = view.query.get('cursor') ?? '';
  const back = view.query.getAll('back');
  view.title(`Topic ${topic} · ${ns}`);
  const errors = h('div', { class: 'errors' });
  const head = h('div', {}, pageHeader(`Topic ${topic}`, { subtitle: `Namespace ${ns}` }));
  const about = section('Topic');
  const subscribers = section('Subscribers');
  replace(about.body, loading());
  replace(subscribers.body, loading());

  const subId = h('input', { id: 'sub-id', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'billing' });
  const kind = h('select', { id: 'sub-kind' }, h('option', { value: 'http' }, 'HTTP request'), h('option', { value: 'nats' }, 'NATS message'));
  const url = h('input', { id: 'sub-url', type: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://billing.example.com/hook' });
  const method = h('select', { id: 'sub-method' }, METHODS.map((m) => h('option', { value: m }, m)));
  const subject = h('input', { id: 'sub-subject', autocomplete: 'off', spellcheck: 'false', placeholder: 'audit.orders' });
  const attempts = h('input', { id: 'sub-attempts', type: 'number', min: '1', max: '100', placeholder: 'default: the timer\'s' });
  const httpFields = h('div', { class: 'row wrap' }, field('Method', method), h('div', { class: 'grow' }, field('Subscriber URL', url)));
  const natsFields = field('Subject', subject);
  const addErrors = h('div', { class: 'errors' });
  const add = h('button', { type: 'submit', class: 'primary' }, 'Add subscriber');
  const form = h('form', { class: 'card', 'aria-labelledby': 'new-sub-title' },
    h('h2', { id: 'new-sub-title' }, 'New subscriber'),
    h('div', { class: 'row wrap' }, field('Subscriber id', subId), field('Delivery', kind), field('Max attempts', attempts)),
    httpFields, natsFields, addErrors, h('div', { class: 'form-actions' }, add));
  const showKind = () => {
    show(httpFields, kind.value === 'http');
    show(natsFields, kind.value === 'nats');
  };
  kind.addEventListener('change', showKind);
  showKind();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const id = subId.value.trim();
    const target = kind.value === 'http' ? { http: { url: url.value.trim(), method: method.value } } : { nats: { subject: subject.value.trim() } };
    const spec = { target };
    if (attempts.value) spec.retry = { max_attempts: Number(attempts.value) };
    const made = await run(add, () => topics.putSubscriber(ns, topic, id, spec), { errors: addErrors, title: 'The subscriber was refused', success: `Subscriber ${id} saved` });
    if (made) {
      form.reset();
      showKind();
      load();
    }
  });

  replace(view.main, head, errors, h('div', { class: 'grid two' }, about.el, form), subscribers.el);

  async function removeTopic(t, button) {
    const yes = await confirm({ title: `Delete topic ${topic}?`, message: `Its ${t.subscribers} subscriber(s) go with it; timers that name it fail their next occurrences until it is made again.`, action: 'Delete' });
    if (!yes) return;
    if (await run(button, () => topics.remove(ns, topic), { errors, title: 'The topic could not be deleted', success: `Topic ${topic} deleted` })) go(href.topics(ns));
  }

  async function removeSubscriber(s, button) {
    const yes = await confirm({ title: `Remove subscriber ${s.id}?`, message: 'It gets no new deliveries; a delivery of it not made yet is logged as skipped.', action: 'Remove' });
    if (!yes) return;
    if (await run(button, () => topics.removeSubscriber(ns, topic, s.id), { errors, title: 'The subscriber could not be removed', success: `Subscriber ${s.id} removed` })) load();
  }

  async function load() {
    try {
      const [{ data: t }, { data: page }] = await Promise.all([topics.get(ns, topic), topics.subscribers(ns, topic, { cursor, limit: 100 })]);
      replace(head, pageHeader(`Topic ${topic}`, {
        subtitle: `Namespace ${ns}`,
        actions: [h('button', { type: 'button', class: 'danger', onclick: (e) => removeTopic(t, e.currentTarget) }, 'Delete topic')],
      }));
      replace(about.body, facts([
        ['Description', t.description || '—'],
        ['Subscribers', String(t.subscribers)],
        ['Metadata', chips(t.metadata)],
        ['Created', when(t.created_at)],
        ['Updated', when(t.updated_at)],
        ['Fire it', h('span', {}, 'a timer with target ', h('code', {}, `{"topic": "${topic}"}`), ' (', h('a', { href: href.create(ns) }, 'new timer'), ')')],
      ]));
      replace(subscribers.body,
        table({
          caption: `Subscribers of ${topic}`,
          columns: [
            ['Id', (s) => h('span', { class: 'mono' }, s.id)],
            ['Delivery', (s) => h('span', { class: 'mono small break' }, targetSummary(s.target))],
            ['Retry', (s) => (s.retry ? `${s.retry.max_attempts ?? 5} attempts` : 'the timer\'s')],
            ['Metadata', (s) => chips(s.metadata)],
            ['Updated', (s) => when(s.updated_at)],
            ['Actions', (s) => h('button', { type: 'button', class: 'danger small', 'aria-label': `Remove subscriber ${s.id}`, onclick: (e) => removeSubscriber(s, e.currentTarget) }, 'Remove')],
          ],
          rows: page.items,
          empty: 'No subscriber: an occurrence of this topic succeeds with nothing to call.',
        }),
        pager({ cursor, back, next: page.next_cursor, href: (c, b) => href.topic(ns, topic, { cursor: c, back: b }), label: 'Subscriber pages' }));
    } catch (e) {
      replace(subscribers.body);
      replace(about.body, errorBox(e, { title: e.status === 404 ? `No topic ${topic} in ${ns}` : 'The topic could not be read' }));
    }
  }
  await load();
}
