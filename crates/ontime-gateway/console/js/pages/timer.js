// One timer: what it is, when it fires next, its counters and every attempt of its calls,
// refreshed by itself; paused, resumed, triggered, edited (PATCH or PUT, If-Match its
// revision) and deleted from here.

import { h, append, replace, show } from '../dom.js';
import { preview, timers } from '../api.js';
import { count, millis, parseTime, pretty, scheduleKind, scheduleSummary, targetSummary, when } from '../format.js';
import { mergeDiff, same } from '../merge.js';
import { badge, chips, confirm, errorBox, facts, jsonBlock, loading, pageHeader, run, section, table } from '../ui.js';

/** How often the page refreshes itself. */
const REFRESH_MS = 3000;
const OUTCOMES = ['succeeded', 'retrying', 'failed', 'rescheduled', 'superseded', 'skipped', 'expired', 'stopped', 'fanned_out'];
const FINISHED = ['succeeded', 'failed', 'completed', 'cancelled'];
/** Outcomes of an attempt that made no call: they have no latency. */
const NOT_CALLED = ['superseded', 'skipped', 'expired'];
const EXCERPT = 160;

/** The definition a timer was given, as PUT takes it. */
function definition(timer) {
  const { schedule, target, retry, metadata } = timer;
  return { schedule, target, retry, metadata };
}

export async function render(view) {
  const { ns, id } = view.params;
  view.title(`${id} · ${ns}`);
  const state = { timer: null, outcome: view.query.get('outcome') ?? '', limit: 25, busy: false, shown: {} };
  /** Whether `part` would show something new: a refresh leaves what did not change alone. */
  const changed = (part, value) => {
    const key = JSON.stringify(value);
    if (state.shown[part] === key) return false;
    state.shown[part] = key;
    return true;
  };

  const head = h('div', {}, pageHeader(id, { subtitle: `Timer in namespace ${ns}` }));
  const notices = h('div', { class: 'errors' });
  const loadErrors = h('div', { class: 'errors' });
  const overview = section('Overview');
  const counters = section('Counters');
  const upcoming = section('Next occurrences');
  const outcome = h('select', { id: 'outcome', value: state.outcome },
    h('option', { value: '' }, 'Any outcome'), OUTCOMES.map((o) => h('option', { value: o }, o)));
  outcome.addEventListener('change', () => {
    state.outcome = outcome.value;
    load();
  });
  const executions = section('Executions', {
    actions: [h('div', { class: 'field inline' }, h('label', { for: 'outcome' }, 'Outcome'), outcome)],
  });
  const editButton = h('button', { type: 'button', class: 'secondary', onclick: () => openEditor() }, 'Edit');
  const definitionSection = section('Definition', { actions: [editButton] });
  const definitionView = h('div', {});
  const editor = h('div', { class: 'editor', hidden: true });
  append(definitionSection.body, definitionView, editor);

  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true });
  const refreshedAt = h('span', { class: 'muted small', 'aria-live': 'off' });
  const refresh = h('button', { type: 'button', class: 'secondary', onclick: () => load() }, 'Refresh');
  const refreshBar = h('div', { class: 'refresh-bar' },
    refresh, h('label', { class: 'check', for: 'auto-refresh' }, auto, ` Auto-refresh every ${REFRESH_MS / 1000} s`), refreshedAt);

  const content = h('div', { class: 'stack' },
    h('div', { class: 'grid three' }, overview.el, counters.el, upcoming.el),
    executions.el, definitionSection.el);
  replace(view.main, head, refreshBar, notices, loadErrors, content);
  replace(overview.body, loading());

  const interval = setInterval(() => {
    if (auto.checked && !document.hidden && !state.busy) load();
  }, REFRESH_MS);
  view.onLeave(() => clearInterval(interval));

  async function load() {
    state.busy = true;
    try {
      const [timer, log] = await Promise.all([
        timers.get(ns, id),
        timers.executions(ns, id, { outcome: state.outcome, limit: state.limit }).catch((e) => ({ error: e })),
      ]);
      state.timer = timer.data;
      replace(loadErrors);
      show(content, true);
      if (changed('timer', timer.data)) renderTimer(timer.data);
      if (changed('log', [log.data, log.error?.message, state.outcome, state.limit])) renderExecutions(log);
      refreshedAt.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      await renderUpcoming(timer.data);
    } catch (e) {
      state.shown = {};
      // Nothing to show yet: the error alone; once shown, the timer stays under the error.
      if (!state.timer) show(content, false);
      replace(loadErrors, errorBox(e, { title: e.status === 404 ? `No timer ${id} in ${ns}` : 'The timer could not be read' }));
      if (e.status === 404) auto.checked = false;
    } finally {
      state.busy = false;
    }
  }

  function renderTimer(t) {
    const finished = FINISHED.includes(t.status);
    const act = (action, label, done) => h('button', {
      type: 'button', class: 'secondary',
      onclick: (event) => run(event.currentTarget, () => timers.act(ns, id, action), { success: done, errors: notices, title: `${label} failed` }).then(load),
    }, label);
    const actions = [
      ['scheduled', 'running'].includes(t.status) ? act('pause', 'Pause', 'Paused') : null,
      t.status === 'paused' ? act('resume', 'Resume', 'Resumed') : null,
      finished ? null : act('trigger', 'Trigger now', 'Triggered: one run now, the schedule unchanged'),
      t.status === 'cancelled' ? null : h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete'),
    ].filter(Boolean);
    replace(head, pageHeader(id, { subtitle: `Timer in namespace ${ns} · revision ${t.revision}`, badge: badge(t.status), actions }));
    replace(overview.body, facts([
      ['Status', badge(t.status)],
      ['Schedule', h('span', { class: 'mono' }, scheduleSummary(t.schedule))],
      ['Next due', when(t.next_fire_at, { ms: true })],
      ['Target', h('span', { class: 'mono break' }, targetSummary(t.target))],
      ['Metadata', chips(t.metadata)],
      ['In flight', t.in_flight.length ? `occurrences ${t.in_flight.join(', ')}` : 'none'],
      t.last_result ? ['Last result', lastResult(t.last_result)] : null,
      ['Created', when(t.created_at)],
      ['Updated', when(t.updated_at)],
    ]));
    replace(counters.body, facts([
      ['Runs', count(t.runs)],
      ['Successes', count(t.successes)],
      ['Failures', count(t.failures)],
      ['Triggered', count(t.triggered)],
      ['Skipped', count(t.skipped)],
      ['Expired', count(t.expired)],
      ['Attempts (last occurrence)', count(t.attempts)],
      t.deliveries || t.delivery_failures ? ['Deliveries', `${count(t.deliveries)} (${count(t.delivery_failures)} failed)`] : null,
      t.fan_outs?.length ? ['Fan-outs in flight', t.fan_outs.map((f) => `#${f.occurrence}: ${f.done?.length ?? 0}/${f.subscribers} done`).join(', ')] : null,
    ]));
    replace(definitionView,
      h('p', { class: 'hint' }, 'Secrets (secret headers, credentials in URLs) are shown masked.'),
      jsonBlock(definition(t), 'Definition'));
  }

  function lastResult(a) {
    const status = a.status_code ? `HTTP ${a.status_code}` : null;
    return h('span', {}, badge(a.outcome, 'outcome'), ' ',
      status && a.error !== status ? `${status} ` : '', a.error ? h('span', { class: 'bad' }, a.error) : '', ' ', when(a.started_at));
  }

  async function renderUpcoming(t) {
    const show = (key, ...nodes) => {
      if (changed('upcoming', key)) replace(upcoming.body, ...nodes);
    };
    if (FINISHED.includes(t.status)) {
      show(t.status, h('p', { class: 'empty' }, `None: the timer is ${t.status}.`));
      return;
    }
    const kind = scheduleKind(t.schedule);
    if (kind === 'after') {
      // A delay counts from the definition: the timer's own instant is the one that holds.
      show(t.upcoming, occurrenceList(t.upcoming));
      return;
    }
    const schedule = { ...t.schedule };
    if (kind === 'every' && !schedule.start_at && t.next_fire_at) {
      // An interval counts from its creation: start from the next instant to keep its phase.
      schedule.start_at = t.next_fire_at;
    }
    if (schedule.max_runs) {
      const left = schedule.max_runs - (t.runs - t.triggered);
      if (left <= 0) {
        show('spent', h('p', { class: 'empty' }, 'None: every run the schedule allows was made.'));
        return;
      }
      schedule.max_runs = left;
    }
    try {
      const data = await preview(schedule, { count: 10 });
      show([t.status, data.occurrences],
        t.status === 'paused' ? h('p', { class: 'notice' }, 'Paused: these are the schedule\'s next instants once resumed (missed ones follow the misfire policy).') : null,
        occurrenceList(data.occurrences));
    } catch (e) {
      show(e.message, errorBox(e, { title: 'The schedule could not be previewed' }));
    }
  }

  function renderExecutions(log) {
    if (log.error) {
      replace(executions.body, errorBox(log.error, { title: 'The executions could not be read' }));
      return;
    }
    const more = log.data.next_cursor && state.limit < 1000
      ? h('button', { type: 'button', class: 'secondary', onclick: () => { state.limit = Math.min(1000, state.limit * 4); load(); } }, 'Show older attempts')
      : null;
    replace(executions.body,
      table({
        caption: 'Attempts, newest first',
        columns: [
          ['Started', (a) => h('div', {}, when(a.started_at, { ms: true }), lateness(a))],
          ['Outcome', (a) => badge(a.outcome, 'outcome')],
          ['Status', (a) => (a.status_code ? h('span', { class: ['mono', a.status_code >= 400 ? 'bad' : 'ok'] }, String(a.status_code)) : h('span', { class: 'none' }, '—'))],
          ['Latency', (a) => (NOT_CALLED.includes(a.outcome) ? h('span', { class: 'none' }, '—') : millis(a.latency_ms))],
          ['Attempt', (a) => h('span', {}, `#${a.attempt}`, h('span', { class: 'muted small' }, ` of occurrence ${a.occurrence}`))],
          ['Error', (a) => (a.error || a.note ? h('span', {}, a.error ? h('span', { class: 'bad' }, a.error) : null, a.note ? h('span', { class: 'muted small' }, ` ${a.note}`) : null) : h('span', { class: 'none' }, '—'))],
          ['Response', response],
          ['Delivery', (a) => h('span', { class: 'mono small break' }, a.delivery_id, a.subscriber ? ` → ${a.subscriber}` : '')],
        ],
        rows: log.data.items,
        empty: state.outcome ? `No attempt with outcome ${state.outcome}.` : 'No attempt yet.',
        rowClass: (a) => `outcome-row-${a.outcome}`,
      }),
      more);
  }

  async function remove() {
    const yes = await confirm({ title: `Delete timer ${id}?`, message: 'It is cancelled: no call starts after this, and it is kept (as cancelled) until the retention period ends.', action: 'Delete' });
    if (!yes) return;
    const done = await run(null, () => timers.remove(ns, id), { success: `Timer ${id} deleted`, errors: notices, title: 'Delete failed' });
    if (done) load();
  }

  function openEditor() {
    if (!state.timer) return;
    const original = definition(state.timer);
    const revision = state.timer.revision;
    const text = h('textarea', { id: 'definition-editor', class: 'code', rows: 18, spellcheck: 'false' }, pretty(original));
    const mode = (value, label, checked) => h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'edit-mode', value, checked }), ` ${label}`);
    const errors = h('div', { class: 'errors' });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
    const form = h('form', { class: 'edit-form', 'aria-label': 'Edit the definition' },
      h('div', { class: 'field' }, h('label', { for: 'definition-editor' }, 'Definition (JSON)'), text),
      h('fieldset', { class: 'modes' }, h('legend', {}, 'Send as'),
        mode('patch', 'PATCH: only what changed (masked secrets left alone are kept)', true),
        mode('put', 'PUT: replace the whole definition (give masked secrets again)', false)),
      h('p', { class: 'hint' }, `Sent with If-Match (revision ${revision}): a change of the definition made meanwhile is refused rather than overwritten.`),
      errors,
      h('div', { class: 'form-actions' }, save,
        h('button', { type: 'button', class: 'secondary', onclick: closeEditor }, 'Cancel')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      replace(errors);
      let edited;
      try {
        edited = JSON.parse(text.value);
      } catch (e) {
        replace(errors, errorBox(e, { title: 'This is not JSON' }));
        return;
      }
      const put = form.elements['edit-mode'].value === 'put';
      let body = edited;
      if (!put) {
        // The schedule is replaced whole; target, retry and metadata are merged.
        const { schedule, ...rest } = edited;
        const { schedule: before, ...restBefore } = original;
        body = mergeDiff(restBefore, rest) ?? {};
        if (!same(before, schedule) && schedule !== undefined) body.schedule = schedule;
        if (!Object.keys(body).length) {
          replace(errors, h('p', { class: 'notice' }, 'Nothing changed.'));
          return;
        }
      }
      const send = (rev) => (put ? timers.replace(ns, id, body, rev) : timers.patch(ns, id, body, rev));
      const result = await run(save, () => sendUnlessChanged(send, original, revision), {
        errors,
        title: put ? 'The definition was refused' : 'The change was refused',
        success: (r) => (r.status === 202 ? 'Accepted: the change will be applied shortly' : `Saved: revision ${r.data.revision}`),
      });
      if (result) {
        closeEditor();
        load();
      }
    });
    replace(editor, form);
    show(editor, true);
    show(definitionView, false);
    editButton.disabled = true;
    text.focus();
  }

  /**
   * Sends an edit with If-Match: `revision`. The revision moves with every report of a call
   * too, so a refusal is looked into: when the definition is still the one the edit started
   * from, only calls happened, and the edit is sent again at the new revision; when it
   * changed, the conflict is the user's to settle.
   */
  async function sendUnlessChanged(send, original, revision) {
    for (let tries = 0; ; tries += 1) {
      try {
        return await send(revision);
      } catch (e) {
        if (e.code !== 'revision_conflict' || tries >= 4) throw e;
        const { data: now } = await timers.get(ns, id);
        if (!same(definition(now), original)) {
          e.message = `${e.message}: the definition was changed since this edit began (Cancel, then Edit again to start from it)`;
          throw e;
        }
        revision = now.revision;
      }
    }
  }

  function closeEditor() {
    replace(editor);
    show(editor, false);
    show(definitionView, true);
    editButton.disabled = false;
  }

  await load();
}

/** How late an attempt started after its due instant. */
function lateness(a) {
  const started = parseTime(a.started_at);
  const due = parseTime(a.due_at);
  if (!started || !due) return null;
  return h('div', { class: 'muted small' }, `${millis(Math.max(0, started - due))} after due`);
}

/** An answer's start, or a command's exit and output. */
function response(a) {
  if (a.run) {
    const out = [a.run.stdout, a.run.stderr].filter(Boolean).join('\n');
    return h('div', {}, h('span', { class: 'mono small' }, a.run.exit_code !== undefined && a.run.exit_code !== null ? `exit ${a.run.exit_code}` : `signal ${a.run.signal ?? '?'}`), out ? excerpt(out) : null);
  }
  return a.response ? excerpt(a.response) : h('span', { class: 'none' }, '—');
}

function excerpt(text) {
  if (text.length <= EXCERPT) return h('pre', { class: 'excerpt' }, text);
  return h('details', { class: 'excerpt' }, h('summary', {}, h('pre', { class: 'excerpt' }, `${text.slice(0, EXCERPT)}…`)), h('pre', { class: 'excerpt' }, text));
}

/** Instants as a numbered list. */
function occurrenceList(instants) {
  if (!instants?.length) return h('p', { class: 'empty' }, 'No occurrence left.');
  return h('ol', { class: 'instants' }, instants.map((t) => h('li', {}, when(t, { ms: true }))));
}
