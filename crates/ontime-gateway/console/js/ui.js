// Pieces every page uses: headers, errors, notices, confirmation, badges, tables, pagers.

import { h, append, replace } from './dom.js';
import { ApiError } from './api.js';

/** A page's header: its title (focused when the page opens), a line under it, its actions. */
export function pageHeader(title, { subtitle, actions = [], badge } = {}) {
  return h('header', { class: 'page-header' },
    h('div', { class: 'titles' },
      h('h1', { tabindex: '-1' }, title, badge ? ' ' : null, badge),
      subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** What went wrong, readably: the API's message, its code and status, the field at fault. */
export function errorBox(error, { title = 'The request failed' } = {}) {
  const box = h('div', { class: 'error-box', role: 'alert' });
  if (!(error instanceof ApiError)) {
    return append(box, h('strong', {}, title), h('p', {}, String(error?.message ?? error)));
  }
  const status = error.status ? `${error.status} ${error.code}` : error.code;
  append(box,
    h('strong', {}, title, ' ', h('span', { class: 'code' }, `(${status})`)),
    h('p', { class: 'message' }, error.message));
  if (error.field) {
    append(box, h('p', { class: 'field-at-fault' }, 'Field: ', h('code', {}, error.field),
      error.position !== null && error.position !== undefined ? ` at character ${error.position + 1}` : null));
  }
  if (error.method) append(box, h('p', { class: 'request' }, `${error.method} ${error.path}`));
  return box;
}

/** The line a toast shows for an error. */
function describe(error) {
  if (!(error instanceof ApiError)) return String(error?.message ?? error);
  return error.field ? `${error.message} (field ${error.field})` : error.message;
}

const MAX_TOASTS = 3;

/** A short message at the corner of the screen, read out by screen readers; the newest few stay. */
export function toast(message, kind = 'info') {
  const area = document.getElementById('toasts');
  const el = h('div', { class: ['toast', kind], role: kind === 'error' ? 'alert' : 'status' }, message);
  area.append(el);
  while (area.children.length > MAX_TOASTS) area.firstElementChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 10000 : 5000);
}

/**
 * Runs `action` with `button` disabled, then toasts `success` (a string, or a function of
 * the result giving one); an error is shown in `errors` (an element) or toasted. Returns the
 * result, or undefined when it failed.
 */
export async function run(button, action, { success, errors, title } = {}) {
  if (button) button.disabled = true;
  if (errors) replace(errors);
  try {
    const result = await action();
    const text = typeof success === 'function' ? success(result) : success;
    if (text) toast(text, 'success');
    return result;
  } catch (e) {
    if (errors) replace(errors, errorBox(e, { title }));
    else toast(`${title ?? 'Failed'}: ${describe(e)}`, 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Asks before doing something that cannot be undone: resolves true when confirmed. */
export function confirm({ title, message, action = 'Confirm', danger = true }) {
  return new Promise((resolve) => {
    const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      h('form', { method: 'dialog', class: 'dialog-actions' },
        h('button', { value: 'cancel', class: 'secondary', autofocus: true }, 'Cancel'),
        h('button', { value: 'confirm', class: danger ? 'danger' : 'primary' }, action)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A timer's status, or an attempt's outcome, as a coloured badge. */
export function badge(value, kind = 'status') {
  return h('span', { class: ['badge', `${kind}-${value}`] }, value ?? '—');
}

/** A table: `columns` are `[heading, cell(row)]`; an empty list shows `empty`. */
export function table({ caption, columns, rows, empty = 'Nothing here.', rowClass }) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
      h('tbody', {}, rows.map((row) => h('tr', { class: rowClass?.(row) }, columns.map(([, cell]) => h('td', {}, cell(row))))))));
}

/** Labels and values. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]));
}

/** Metadata as `key=value` chips. */
export function chips(metadata) {
  const entries = Object.entries(metadata ?? {});
  if (!entries.length) return h('span', { class: 'none' }, '—');
  return h('ul', { class: 'chips' }, entries.map(([k, v]) => h('li', {}, h('span', { class: 'k' }, k), '=', h('span', { class: 'v' }, v))));
}

/** JSON for reading. */
export function jsonBlock(value, label) {
  return h('pre', { class: 'json', tabindex: '0', 'aria-label': label }, JSON.stringify(value, null, 2));
}

/**
 * Back and Next links over a cursor-paged listing: `cursor` is this page's ('' for the
 * first), `back` the cursors of the pages before it, `next` the next page's (none on the
 * last), and `href(cursor, back)` makes a page's link.
 */
export function pager({ cursor, back, next, href, label = 'Pages' }) {
  const backLink = back.length
    ? h('a', { class: 'button secondary', href: href(back[back.length - 1], back.slice(0, -1)), rel: 'prev' }, '← Back')
    : h('span', { class: 'button secondary disabled', 'aria-disabled': 'true' }, '← Back');
  const nextLink = next
    ? h('a', { class: 'button secondary', href: href(next, back.concat([cursor])), rel: 'next' }, 'Next →')
    : h('span', { class: 'button secondary disabled', 'aria-disabled': 'true' }, 'Next →');
  return h('nav', { class: 'pager', 'aria-label': label }, backLink, h('span', { class: 'page-number' }, `Page ${back.length + 1}`), nextLink);
}

/** A section of a page with a heading and a body that can be refilled. */
export function section(title, { actions = [], id } = {}) {
  const body = h('div', { class: 'section-body' });
  const headingId = id ?? `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  const el = h('section', { class: 'card', 'aria-labelledby': headingId },
    h('div', { class: 'section-head' }, h('h2', { id: headingId }, title), actions.length ? h('div', { class: 'actions' }, actions) : null),
    body);
  return { el, body };
}

/** "Loading…", announced. */
export function loading(what = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, what);
}
