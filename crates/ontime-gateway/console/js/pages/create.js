// A new timer, from a form or as raw JSON, with the schedule's next instants (or what is
// wrong with it) previewed by the API as you type.

import { h, append, field, replace, show } from '../dom.js';
import { preview, timers, topics } from '../api.js';
import { go, href } from '../router.js';
import { LOCAL_ZONE, SCHEDULE_KINDS, pretty, when } from '../format.js';
import { confirm, errorBox, pageHeader, toast } from '../ui.js';

/** How long typing must pause before the preview is asked for. */
const DEBOUNCE_MS = 300;
const PREVIEW_COUNT = 5;
const RECURRING = ['every', 'cron', 'iso'];
const KIND_LABELS = { at: 'At an instant', after: 'After a delay', every: 'Every interval', cron: 'Cron expression', iso: 'ISO 8601 repetition' };
const METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const RETRY = [
  ['max_attempts', 'Max attempts', '5', 'Attempts in all, the first included'],
  ['initial_interval', 'Initial interval', '1s', 'Wait before the second attempt'],
  ['multiplier', 'Multiplier', '2', 'Each wait is the previous one times this'],
  ['max_interval', 'Max interval', '10m', 'No wait longer than this'],
  ['max_duration', 'Max duration', 'none', 'No attempt later than this after the due time'],
];

/** The id of the control of an API field name: `max_attempts` is `max-attempts`. */
const controlId = (name) => name.replaceAll('_', '-');

/** A mistake found before anything is sent: the control at fault and why. */
class FormError extends Error {
  constructor(control, message) {
    super(message);
    this.control = control;
  }
}

/** Where the API's `field` is in the form. */
const CONTROL_OF_FIELD = [
  [/^id$/, 'timer-id'],
  [/^schedule\.(at|after|every|cron|iso|timezone|start_at|max_runs|misfire|overlap|max_lateness)/, (m) => controlId(m[1])],
  [/^schedule\.(end_at|stop_at)/, () => 'end-at'],
  [/^target\.http\.url/, 'url'],
  [/^target\.http\.method/, 'method'],
  [/^target\.http\.timeout/, 'timeout'],
  [/^target\.http\.secret_headers/, 'secret-headers'],
  [/^target\.(http|nats|topic)\.headers/, 'headers'],
  [/^target\.(http|nats|topic)\.(body|body_base64|content_type)/, 'body'],
  [/^target\.nats/, 'subject'],
  [/^target\.topic/, 'topic'],
  [/^retry\.(\w+)/, (m) => `retry-${controlId(m[1])}`],
  [/^metadata/, 'metadata'],
];

function controlOfField(fieldPath) {
  for (const [pattern, control] of CONTROL_OF_FIELD) {
    const m = pattern.exec(fieldPath ?? '');
    if (m) return typeof control === 'function' ? control(m) : control;
  }
  return null;
}

/** A datetime-local value (the browser's zone) as an RFC 3339 instant in UTC. */
function instant(control) {
  if (!control.value) return undefined;
  const date = new Date(control.value);
  if (Number.isNaN(date.getTime())) throw new FormError(control, 'not a date and time');
  return date.toISOString();
}

/** An RFC 3339 instant as a datetime-local value in the browser's zone, to the second. */
function localInput(text) {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Lines of `Name: value` (or `key=value`) as an object; empty lines are skipped. */
function pairs(control, separator) {
  const out = {};
  for (const [i, raw] of control.value.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf(separator);
    if (at < 1) throw new FormError(control, `line ${i + 1} is not ${separator === ':' ? 'Name: value' : 'key=value'}`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function unpairs(object, separator) {
  return Object.entries(object ?? {}).map(([k, v]) => `${k}${separator}${v}`).join('\n');
}

/** UTF-8 text as standard base64. */
function base64(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function unbase64(text) {
  return new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
}

export async function render(view) {
  const { ns } = view.params;
  view.title(`New timer · ${ns}`);

  // The controls, by id; each has its label.
  const c = {};
  const input = (id, attrs = {}) => (c[id] = h('input', { id, name: id, autocomplete: 'off', spellcheck: 'false', ...attrs }));
  const textarea = (id, rows, attrs = {}) => (c[id] = h('textarea', { id, name: id, rows, spellcheck: 'false', ...attrs }));
  const select = (id, options, attrs = {}) => (c[id] = h('select', { id, name: id, ...attrs },
    options.map(([value, label]) => h('option', { value }, label ?? value))));

  const zones = h('datalist', { id: 'tz-list' }, ['UTC', ...Intl.supportedValuesOf('timeZone')].map((z) => h('option', { value: z })));
  const topicNames = h('datalist', { id: 'topic-list' });

  const kindFields = {
    at: field(`Due at (your time, ${LOCAL_ZONE})`, input('at', { type: 'datetime-local', step: '1' })),
    after: field('Delay', input('after', { placeholder: '90s, 1h30m, PT2M' })),
    every: field('Interval', input('every', { placeholder: '2s, 1h30m, PT90M' })),
    cron: field('Cron expression', input('cron', { placeholder: '0 30 9 * * MON-FRI' }), '6 fields (seconds first), 5 fields, or @daily, @hourly…'),
    iso: field('ISO 8601 repetition', input('iso', { placeholder: 'R5/2027-06-01T00:00:00Z/P1D' })),
  };
  const zoneField = field('Time zone', input('timezone', { list: 'tz-list', value: LOCAL_ZONE }), 'The wall clock cron and calendar periods follow');
  const recurringFields = h('div', { class: 'row wrap' },
    field('Start at', input('start-at', { type: 'datetime-local', step: '1' })),
    field('End at', input('end-at', { type: 'datetime-local', step: '1' })),
    field('Max runs', input('max-runs', { type: 'number', min: '1', step: '1' })),
    field('Misfire', select('misfire', [['', 'default (fire once)'], ['fire_once'], ['skip'], ['fire_all']])),
    field('Overlap', select('overlap', [['', 'default (allow)'], ['allow'], ['skip']])));
  const scheduleSection = h('fieldset', { class: 'card' }, h('legend', {}, 'Schedule'),
    field('Schedule kind', select('kind', SCHEDULE_KINDS.map((k) => [k, KIND_LABELS[k]]))),
    Object.values(kindFields), zoneField,
    h('details', { class: 'more' }, h('summary', {}, 'More schedule options'),
      recurringFields,
      field('Max lateness', input('max-lateness', { placeholder: 'e.g. 5m' }), 'A first attempt later than this after its due time is not made (logged as expired)')));

  const httpFields = h('div', { class: 'row wrap' },
    field('Method', select('method', METHODS.map((m) => [m]))),
    h('div', { class: 'grow' }, field('URL', input('url', { type: 'url', placeholder: 'https://api.example.com/hooks/remind' }))),
    field('Timeout', input('timeout', { placeholder: '10s (default)', size: '12' })));
  const natsFields = field('Subject', input('subject', { placeholder: 'billing.invoices.due' }));
  const topicFields = field('Topic', input('topic', { list: 'topic-list', placeholder: 'orders' }), 'Every subscriber of this topic of the namespace gets its own delivery');
  const secretFields = field('Secret headers', textarea('secret-headers', 2, { placeholder: 'Authorization: Bearer …' }), 'Stored encrypted, shown masked; one Name: value a line');
  const targetSection = h('fieldset', { class: 'card' }, h('legend', {}, 'Target'),
    field('Target kind', select('target-kind', [['http', 'HTTP request'], ['nats', 'NATS message'], ['topic', 'Topic (fan-out)']])),
    httpFields, natsFields, topicFields,
    h('div', { class: 'grid two' }, field('Headers', textarea('headers', 2, { placeholder: 'x-tenant: 7' }), 'One Name: value a line'), secretFields),
    h('div', { class: 'row' },
      field('Body format', select('body-format', [['json', 'JSON'], ['text', 'Text']])),
      h('div', { class: 'grow' }, field('Content type', input('content-type', { placeholder: 'application/json (default for JSON)' })))),
    field('Body', textarea('body', 4, { class: 'code', placeholder: '{"order": 42}' })));

  const retrySection = h('fieldset', { class: 'card' }, h('legend', {}, 'Retry'),
    h('p', { class: 'hint' }, 'Left empty, a field keeps its default.'),
    h('div', { class: 'grid retry' }, RETRY.map(([name, label, placeholder, hint]) =>
      field(label, input(`retry-${controlId(name)}`, { placeholder, ...(name === 'max_attempts' ? { type: 'number', min: '1', max: '100' } : {}) }), hint))));

  const metadataSection = h('fieldset', { class: 'card' }, h('legend', {}, 'Metadata'),
    field('Metadata', textarea('metadata', 3, { placeholder: 'app=billing\nowner=team-a' }), 'One key=value a line; listings filter on them'));

  const idField = field('Timer id (optional)', input('timer-id', { placeholder: 'generated when empty (a UUIDv7)' }),
    'A timer that has this id already is replaced (you are asked first)');

  const formPart = h('div', { class: 'form-part' }, h('fieldset', { class: 'card' }, h('legend', {}, 'Timer'), idField),
    scheduleSection, targetSection, retrySection, metadataSection);
  const jsonPart = h('div', { class: 'json-part', hidden: true },
    h('div', { class: 'card' }, field('Timer (JSON)', textarea('json', 24, { class: 'code' }),
      'The body of POST /v1/namespaces/…/timers: id (optional), schedule, target, retry, metadata')));

  const modeRadio = (value, label, checked) => h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'editor-mode', value, checked }), ` ${label}`);
  const modes = h('fieldset', { class: 'modes inline' }, h('legend', {}, 'Edit with'), modeRadio('form', 'Form', true), modeRadio('json', 'JSON', false));

  const errors = h('div', { class: 'errors' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create timer');
  const form = h('form', { class: 'create-form', 'aria-label': 'New timer', novalidate: true },
    modes, formPart, jsonPart, errors, h('div', { class: 'form-actions' }, submit, h('a', { class: 'button secondary', href: href.timers(ns) }, 'Cancel')));

  const previewBody = h('div', { class: 'preview-body' });
  const requestBody = h('pre', { class: 'json small', tabindex: '0', 'aria-label': 'Request body' });
  const aside = h('aside', { class: 'side' },
    h('section', { class: 'card preview', 'aria-labelledby': 'preview-title' },
      h('h2', { id: 'preview-title' }, 'Schedule preview'),
      h('div', { 'aria-live': 'polite' }, previewBody)),
    h('details', { class: 'card' }, h('summary', {}, `The request: POST /v1/namespaces/${ns}/timers`), requestBody));

  replace(view.main,
    pageHeader('New timer', { subtitle: `In namespace ${ns}` }),
    h('div', { class: 'create-layout' }, form, aside),
    zones, topicNames);

  /** The timer as the form describes it; a FormError for what cannot be read. */
  function fromForm() {
    const kind = c.kind.value;
    const schedule = {};
    const value = (id) => c[id].value.trim() || undefined;
    if (kind === 'at') {
      schedule.at = instant(c.at);
      if (!schedule.at) throw new FormError(c.at, 'give the instant it is due');
    } else {
      schedule[kind] = value(kind);
      if (!schedule[kind]) throw new FormError(c[kind], `give the ${kindFields[kind].querySelector('label').textContent.toLowerCase()}`);
    }
    if (kind === 'cron' || kind === 'iso') schedule.timezone = value('timezone');
    if (RECURRING.includes(kind)) {
      schedule.start_at = instant(c['start-at']);
      schedule.end_at = instant(c['end-at']);
      schedule.max_runs = c['max-runs'].value ? Number(c['max-runs'].value) : undefined;
      schedule.misfire = value('misfire');
      schedule.overlap = value('overlap');
    }
    schedule.max_lateness = value('max-lateness');

    const targetKind = c['target-kind'].value;
    const target = {};
    const headers = pairs(c.headers, ':');
    if (Object.keys(headers).length) target.headers = headers;
    const body = c.body.value;
    if (body.trim()) {
      if (c['body-format'].value === 'json') {
        try {
          target.body = JSON.parse(body);
        } catch (e) {
          throw new FormError(c.body, `the body is not JSON (${e.message}); choose the Text format to send it as it is`);
        }
      } else {
        target.body_base64 = base64(body);
      }
    }
    target.content_type = value('content-type');
    if (targetKind === 'http') {
      target.url = value('url');
      target.method = c.method.value;
      target.timeout = value('timeout');
      const secrets = pairs(c['secret-headers'], ':');
      if (Object.keys(secrets).length) target.secret_headers = secrets;
    } else if (targetKind === 'nats') {
      target.subject = value('subject');
    } else {
      target.name = value('topic');
    }

    const retry = {};
    for (const [name] of RETRY) {
      const text = value(`retry-${controlId(name)}`);
      if (text !== undefined) retry[name] = ['max_attempts', 'multiplier'].includes(name) ? Number(text) : text;
    }
    const doc = { id: value('timer-id'), schedule, target: { [targetKind]: target } };
    if (Object.keys(retry).length) doc.retry = retry;
    const metadata = pairs(c.metadata, '=');
    if (Object.keys(metadata).length) doc.metadata = metadata;
    return JSON.parse(JSON.stringify(doc));
  }

  /** Fills the form from a timer document; false (and the form untouched) when it cannot show it. */
  function toForm(doc) {
    const kind = SCHEDULE_KINDS.find((k) => doc.schedule && k in doc.schedule);
    const targetKind = ['http', 'nats', 'topic'].find((k) => doc.target && k in doc.target);
    if (!kind || !targetKind || Object.keys(doc.target).length !== 1) return false;
    const s = doc.schedule;
    const t = typeof doc.target.topic === 'string' ? { name: doc.target.topic } : doc.target[targetKind];
    for (const control of Object.values(c)) {
      if (control.tagName !== 'SELECT' && control !== c.json && control !== c.timezone) control.value = '';
    }
    c['timer-id'].value = doc.id ?? '';
    c.kind.value = kind;
    c[kind].value = kind === 'at' ? localInput(s.at) : s[kind];
    c.timezone.value = s.timezone ?? (kind === 'cron' || kind === 'iso' ? 'UTC' : LOCAL_ZONE);
    c['start-at'].value = s.start_at ? localInput(s.start_at) : '';
    const end = s.end_at ?? s.stop_at;
    c['end-at'].value = end ? localInput(end) : '';
    c['max-runs'].value = s.max_runs ?? '';
    c.misfire.value = s.misfire ?? '';
    c.overlap.value = s.overlap ?? '';
    c['max-lateness'].value = s.max_lateness ?? '';
    c['target-kind'].value = targetKind;
    c.url.value = t.url ?? '';
    c.method.value = (t.method ?? 'POST').toUpperCase();
    c.timeout.value = t.timeout ?? '';
    c['secret-headers'].value = unpairs(t.secret_headers, ': ');
    c.subject.value = t.subject ?? '';
    c.topic.value = t.name ?? '';
    c.headers.value = unpairs(t.headers, ': ');
    c['content-type'].value = t.content_type ?? '';
    if (t.body_base64 !== undefined) {
      c['body-format'].value = 'text';
      c.body.value = unbase64(t.body_base64);
    } else {
      c['body-format'].value = 'json';
      c.body.value = t.body === undefined ? '' : pretty(t.body);
    }
    for (const [name] of RETRY) c[`retry-${controlId(name)}`].value = doc.retry?.[name] ?? '';
    c.metadata.value = unpairs(doc.metadata, '=');
    return true;
  }

  const jsonMode = () => form.elements['editor-mode'].value === 'json';

  /** The timer as the editor in use describes it. */
  function current() {
    if (!jsonMode()) return fromForm();
    try {
      return JSON.parse(c.json.value);
    } catch (e) {
      throw new FormError(c.json, `not JSON: ${e.message}`);
    }
  }

  function showKind() {
    const kind = c.kind.value;
    for (const [k, el] of Object.entries(kindFields)) show(el, k === kind);
    show(zoneField, kind === 'cron' || kind === 'iso');
    show(recurringFields, RECURRING.includes(kind));
    const target = c['target-kind'].value;
    show(httpFields, target === 'http');
    show(secretFields, target === 'http');
    show(natsFields, target === 'nats');
    show(topicFields, target === 'topic');
  }

  // The preview: the latest schedule typed, asked for once typing pauses; an answer to an
  // older one is dropped.
  let debounce = null;
  let inFlight = null;
  let lastSchedule;
  function schedulePreview() {
    clearTimeout(debounce);
    debounce = setTimeout(updatePreview, DEBOUNCE_MS);
  }

  async function updatePreview() {
    let doc;
    try {
      doc = current();
      replace(requestBody, pretty(doc));
    } catch (e) {
      lastSchedule = undefined;
      replace(requestBody, '—');
      replace(previewBody, h('p', { class: 'notice' }, e.message));
      return;
    }
    const key = JSON.stringify(doc.schedule ?? null);
    if (key === lastSchedule) return;
    lastSchedule = key;
    if (!doc.schedule || typeof doc.schedule !== 'object') {
      replace(previewBody, h('p', { class: 'notice' }, 'The timer has no schedule yet.'));
      return;
    }
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    replace(previewBody, h('p', { class: 'muted' }, 'Asking the API…'));
    try {
      const data = await preview(doc.schedule, { count: PREVIEW_COUNT, signal: controller.signal });
      replace(previewBody, data.occurrences.length
        ? h('div', {}, h('p', { class: 'muted' }, data.occurrences.length === 1 ? 'It fires once:' : `The next ${data.occurrences.length}:`),
          h('ol', { class: 'instants', 'aria-label': 'Next occurrences' }, data.occurrences.map((t) => h('li', {}, when(t, { ms: true })))))
        : h('p', { class: 'notice' }, 'No occurrence: this schedule never fires (a timer with it is refused).'));
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(previewBody, errorBox(e, { title: 'This schedule is refused' }), caret(doc.schedule, e));
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  /** The expression at fault with a mark under the position the API gave. */
  function caret(schedule, error) {
    const name = error.field?.replace(/^schedule\./, '');
    const text = schedule?.[name];
    if (typeof text !== 'string' || error.position === null || error.position === undefined) return null;
    return h('pre', { class: 'caret', 'aria-hidden': 'true' }, `${text}\n${' '.repeat(error.position)}^`);
  }

  function markInvalid(control, message) {
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    if (!control) return;
    control.setAttribute('aria-invalid', 'true');
    control.closest('details')?.setAttribute('open', '');
    if (message) control.setAttribute('aria-errormessage', 'create-error');
    control.focus();
  }

  form.addEventListener('input', schedulePreview);
  form.addEventListener('change', (event) => {
    if (event.target.name === 'editor-mode') switchMode();
    if (['kind', 'target-kind'].includes(event.target.id)) showKind();
    schedulePreview();
  });

  function switchMode() {
    if (jsonMode()) {
      try {
        c.json.value = pretty(fromForm());
      } catch (e) {
        // Half-filled: start the JSON from a skeleton of the kind chosen.
        c.json.value = pretty({ schedule: { [c.kind.value]: '' }, target: { [c['target-kind'].value]: {} } });
        toast(`The form was not complete (${e.message}): the JSON starts from what it had.`, 'info');
      }
      show(formPart, false);
      show(jsonPart, true);
      c.json.focus();
      return;
    }
    let doc;
    try {
      doc = JSON.parse(c.json.value);
    } catch (e) {
      doc = null;
    }
    if (!doc || !toForm(doc)) {
      form.elements['editor-mode'].value = 'json';
      toast('The form shows one schedule and an HTTP, NATS or topic target: this JSON stays in the JSON editor.', 'error');
      return;
    }
    showKind();
    show(jsonPart, false);
    show(formPart, true);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(errors);
    let doc;
    try {
      doc = current();
    } catch (e) {
      replace(errors, h('div', { id: 'create-error' }, errorBox(e, { title: 'The timer is not complete' })));
      markInvalid(e.control, e.message);
      return;
    }
    if (doc.id) {
      let existing = null;
      try {
        existing = (await timers.get(ns, doc.id)).data;
      } catch (e) {
        if (e.status !== 404) {
          replace(errors, errorBox(e, { title: `Whether timer ${doc.id} exists could not be read` }));
          return;
        }
      }
      if (existing && existing.status !== 'cancelled') {
        const yes = await confirm({ title: `Replace timer ${doc.id}?`, message: `A ${existing.status} timer has this id in ${ns}: creating this one replaces it.`, action: 'Replace' });
        if (!yes) return;
      }
    }
    submit.disabled = true;
    try {
      const { status, data } = await timers.create(ns, doc);
      view.refreshNamespaces();
      if (status === 202) {
        // Durable but not applied yet: the answer names the timer, not its state.
        toast('Accepted: the timer will be applied shortly', 'success');
        go(href.timer(ns, data.id));
      } else {
        toast(`Timer ${data.id} created`, 'success');
        go(href.timer(ns, data.id));
      }
    } catch (e) {
      replace(errors, h('div', { id: 'create-error' }, errorBox(e, { title: 'The timer was refused' })));
      markInvalid(jsonMode() ? c.json : c[controlOfField(e.field)], e.message);
    } finally {
      submit.disabled = false;
    }
  });

  // The topics, as suggestions for a topic target.
  topics.list(ns, { limit: 1000 })
    .then(({ data }) => append(topicNames, data.items.map((t) => h('option', { value: t.name }))))
    .catch((e) => append(topicFields, h('small', { class: 'hint' }, `The topics could not be listed for suggestions: ${e.message}`)));

  const inFive = new Date(Date.now() + 5 * 60000);
  inFive.setSeconds(0, 0);
  c.kind.value = 'at';
  c.at.value = localInput(inFive.toISOString());
  showKind();
  updatePreview();
}
