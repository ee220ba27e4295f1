// A namespace's topics, a page at a time: each fans a timer's call out to its subscribers.
// Made and deleted here.

import { h, field, replace } from '../dom.js';
import { topics } from '../api.js';
import { go, href } from '../router.js';
import { count, when } from '../format.js';
import { chips, confirm, errorBox, loading, pageHeader, pager, run, table } from '../ui.js';

export async function render(view) {
  const { ns } = view.params;
  const cursor = view.query.get('cursor') ?? '';
  const back = view.query.getAll('back');
  view.title(`Topics · ${ns}`);
  const errors = h('div', { class: 'errors' });
  const results = h('div', {}, loading());

  const name = h('input', { id: 'topic-name', name: 'name', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'orders' });
  const description = h('input', { id: 'topic-description', name: 'description', autocomplete: 'off', placeholder: 'new orders' });
  const createErrors = h('div', { class: 'errors' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create topic');
  const form = h('form', { class: 'card', 'aria-labelledby': 'new-topic-title' },
    h('h2', { id: 'new-topic-title' }, 'New topic'),
    h('div', { class: 'row wrap' }, field('Topic name', name), h('div', { class: 'grow' }, field('Description', description)), create),
    createErrors);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const topic = name.value.trim();
    const made = await run(create, () => topics.put(ns, topic, { description: description.value.trim() }), {
      errors: createErrors,
      title: 'The topic was refused',
      success: ({ status }) => (status === 201 ? `Topic ${topic} created` : `Topic ${topic} updated`),
    });
    if (made) go(href.topic(ns, topic));
  });

  replace(view.main,
    pageHeader('Topics', { subtitle: `Namespace ${ns}: a timer whose target is a topic calls every subscriber, each with its own delivery` }),
    errors, results, form);

  async function remove(topic, button) {
    const yes = await confirm({
      title: `Delete topic ${topic.name}?`,
      message: `Its ${topic.subscribers} subscriber(s) go with it; timers that name it fail their next occurrences until it is made again.`,
      action: 'Delete',
    });
    if (!yes) return;
    if (await run(button, () => topics.remove(ns, topic.name), { errors, title: 'The topic could not be deleted', success: `Topic ${topic.name} deleted` })) load();
  }

  async function load() {
    try {
      const { data } = await topics.list(ns, { cursor, limit: 50 });
      replace(results,
        table({
          caption: `Topics of ${ns}`,
          columns: [
            ['Topic', (t) => h('a', { class: 'mono', href: href.topic(ns, t.name) }, t.name)],
            ['Description', (t) => t.description || h('span', { class: 'none' }, '—')],
            ['Subscribers', (t) => count(t.subscribers)],
            ['Metadata', (t) => chips(t.metadata)],
            ['Updated', (t) => when(t.updated_at)],
            ['Actions', (t) => h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete topic ${t.name}`, onclick: (e) => remove(t, e.currentTarget) }, 'Delete')],
          ],
          rows: data.items,
          empty: 'No topic in this namespace yet.',
        }),
        pager({ cursor, back, next: data.next_cursor, href: (c, b) => href.topics(ns, { cursor: c, back: b }), label: 'Topic pages' }));
    } catch (e) {
      replace(results, errorBox(e, { title: 'The topics could not be listed' }));
    }
  }
  await load();
}
