// The namespaces: those the API lists, those opened by hand in this tab, and a form to open
// any other (a namespace needs no creating: the first timer or topic put in it makes it).

import { h, replace } from '../dom.js';
import { go, href } from '../router.js';
import { knownNamespaces, useNamespace, validName } from '../namespaces.js';
import { errorBox, loading, pageHeader } from '../ui.js';

export async function render(view) {
  view.title('Namespaces');
  const list = h('div', {}, loading());
  const input = h('input', { id: 'open-ns', name: 'namespace', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. billing' });
  const problem = h('div', { class: 'errors' });
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'open-ns-title' },
    h('h2', { id: 'open-ns-title' }, 'Open a namespace'),
    h('p', { class: 'hint' }, 'Any name of 1 to 64 letters, digits, ".", "_" or "-": one with nothing in it yet is fine, it is made by the first timer or topic put in it.'),
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'open-ns' }, 'Namespace name'), input),
      h('button', { type: 'submit', class: 'primary' }, 'Open')),
    problem);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!validName(name)) {
      replace(problem, errorBox(new Error('A namespace is 1 to 64 of A-Z a-z 0-9 . _ - (and not "." or "..").'), { title: `"${name}" is not a namespace name` }));
      return;
    }
    useNamespace(name);
    view.refreshNamespaces();
    go(href.timers(name));
  });
  replace(view.main,
    pageHeader('Namespaces', { subtitle: 'Timers, topics and dead letters live in namespaces. Pick one, or open another.' }),
    h('div', { class: 'grid two' }, h('section', { class: 'card', 'aria-label': 'Known namespaces' }, list), h('section', { class: 'card' }, form)));

  const { listed, typed, error } = await knownNamespaces();
  const row = (name, note) => h('li', {},
    h('a', { class: 'ns-name', href: href.timers(name) }, name),
    note ? h('span', { class: 'muted' }, ` ${note}`) : null,
    h('span', { class: 'ns-links' },
      h('a', { href: href.timers(name), 'aria-label': `Timers of ${name}` }, 'timers'),
      h('a', { href: href.letters(name), 'aria-label': `Dead letters of ${name}` }, 'dead letters'),
      h('a', { href: href.topics(name), 'aria-label': `Topics of ${name}` }, 'topics')));
  const names = [...(listed ?? []).map((name) => row(name)), ...typed.map((name) => row(name, '(opened in this tab)'))];
  replace(list,
    h('h2', {}, 'Known namespaces'),
    error ? h('p', { class: 'notice' }, error.status === 404
      ? 'This server does not list its namespaces (no GET /v1/namespaces): open one by name.'
      : `The namespaces could not be listed: ${error.message}`) : null,
    names.length ? h('ul', { class: 'ns-list' }, names) : h('p', { class: 'empty' }, 'No namespace holds anything yet, or none your token covers.'));
}
