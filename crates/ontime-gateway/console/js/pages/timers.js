// A namespace's timers: filtered by status, schedule kind and metadata, a page at a time
// (the API's cursor; the cursors of the pages before are kept in the link, for Back).

import { h, replace, field } from '../dom.js';
import { timers } from '../api.js';
import { go, href } from '../router.js';
import { SCHEDULE_KINDS, count, plural, scheduleSummary, when } from '../format.js';
import { badge, chips, errorBox, loading, pageHeader, pager, table } from '../ui.js';

const STATUSES = ['scheduled', 'running', 'paused', 'succeeded', 'failed', 'completed', 'cancelled'];
const PAGE_SIZES = ['10', '25', '50', '100'];

/** `app=crony, owner=team-a` as `{app: 'crony', owner: 'team-a'}`; throws on a malformed entry. */
function parseMetadataFilter(text) {
  const pairs = {};
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const at = part.indexOf('=');
    if (at < 1) throw new Error(`"${part}" is not key=value`);
    pairs[part.slice(0, at)] = part.slice(at + 1);
  }
  return pairs;
}

function select(id, options, value, anyLabel) {
  return h('select', { id, name: id, value },
    h('option', { value: '' }, anyLabel),
    options.map((o) => h('option', { value: o }, o)));
}

export async function render(view) {
  const { ns } = view.params;
  const q = view.query;
  const filters = { status: q.get('status') ?? '', kind: q.get('kind') ?? '', meta: q.get('meta') ?? '', limit: q.get('limit') ?? '25' };
  const cursor = q.get('cursor') ?? '';
  const back = q.getAll('back');
  view.title(`Timers · ${ns}`);

  const status = select('status', STATUSES, filters.status, 'Any but cancelled');
  const kind = select('kind', SCHEDULE_KINDS, filters.kind, 'Any kind');
  const meta = h('input', { id: 'meta', name: 'meta', value: filters.meta, placeholder: 'app=crony, owner=team-a', spellcheck: 'false', autocomplete: 'off' });
  const sizes = PAGE_SIZES.includes(filters.limit) ? PAGE_SIZES : [...PAGE_SIZES, filters.limit];
  const limit = h('select', { id: 'limit', name: 'limit', value: filters.limit }, sizes.map((s) => h('option', { value: s }, s)));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter timers' },
    field('Status', status),
    field('Schedule kind', kind),
    field('Metadata', meta),
    field('Page size', limit),
    h('div', { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('a', { class: 'button secondary', href: href.timers(ns) }, 'Clear')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go(href.timers(ns, { status: status.value, kind: kind.value, meta: meta.value.trim(), limit: limit.value === '25' ? '' : limit.value }));
  });

  const results = h('div', { class: 'results' }, loading());
  const refresh = h('button', { type: 'button', class: 'secondary', onclick: () => load() }, 'Refresh');
  replace(view.main,
    pageHeader('Timers', { subtitle: `Namespace ${ns}`, actions: [refresh, h('a', { class: 'button primary', href: href.create(ns) }, 'New timer')] }),
    form,
    results);

  async function load() {
    let metadata;
    try {
      metadata = parseMetadataFilter(filters.meta);
    } catch (e) {
      replace(results, errorBox(e, { title: 'The metadata filter is not key=value' }));
      return;
    }
    const query = { status: filters.status, kind: filters.kind, limit: filters.limit, cursor };
    for (const [k, v] of Object.entries(metadata)) query[`metadata.${k}`] = v;
    try {
      const { data } = await timers.list(ns, query);
      const pageHref = (c, b) => href.timers(ns, { ...filters, limit: filters.limit === '25' ? '' : filters.limit, cursor: c, back: b });
      replace(results,
        table({
          caption: `Timers of ${ns}`,
          columns: [
            ['Id', (t) => h('a', { href: href.timer(ns, t.id), class: 'mono' }, t.id)],
            ['Status', (t) => badge(t.status)],
            ['Schedule', (t) => h('span', { class: 'mono small' }, scheduleSummary(t.schedule))],
            ['Next due', (t) => when(t.next_fire_at)],
            ['Counters', counters],
            ['Metadata', (t) => chips(t.metadata)],
          ],
          rows: data.items,
          empty: cursor ? 'No more timers.' : 'No timer matches in this namespace.',
        }),
        pager({ cursor, back, next: data.next_cursor, href: pageHref, label: 'Timer pages' }));
    } catch (e) {
      replace(results, errorBox(e, { title: 'The timers could not be listed' }));
    }
  }
  await load();
}

/** Runs, successes and failures, and the rarer counters when they are not zero. */
function counters(t) {
  const parts = [
    h('span', { title: 'Occurrences fired' }, plural(t.runs, 'run')),
    h('span', { class: t.successes ? 'ok' : '', title: 'Occurrences that succeeded' }, `${count(t.successes)} ok`),
    h('span', { class: t.failures ? 'bad' : '', title: 'Occurrences that failed for good' }, `${count(t.failures)} failed`),
  ];
  for (const [key, label] of [['triggered', 'triggered'], ['skipped', 'skipped'], ['expired', 'expired'], ['deliveries', 'deliveries']]) {
    if (t[key]) parts.push(h('span', {}, `${count(t[key])} ${label}`));
  }
  return h('span', { class: 'counters' }, parts);
}
