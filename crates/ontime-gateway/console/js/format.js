// How instants, durations, schedules and targets read on screen. Instants are shown in the
// browser's time zone, with UTC on hover and the distance from now beside them; the
// distances follow the clock (see `tick`).

import { h } from './dom.js';

/** The schedule kinds, in the order the console offers them. */
export const SCHEDULE_KINDS = ['at', 'after', 'every', 'cron', 'iso'];

/** An API instant as a Date. The API gives up to nanoseconds; a Date keeps milliseconds. */
export function parseTime(text) {
  if (!text) return null;
  const trimmed = String(text).replace(/(\.\d{3})\d+/, '$1');
  const date = new Date(trimmed);
  return Number.isNaN(date.getTime()) ? null : date;
}

const LOCAL = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const LOCAL_MS = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3,
});

/** The browser's time zone, as the API names zones. */
export const LOCAL_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** `date` in the browser's zone. */
function localTime(date, { ms = false } = {}) {
  return (ms ? LOCAL_MS : LOCAL).format(date);
}

/** `date` in UTC, to the millisecond. */
function utcTime(date) {
  return `${date.toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** How far `date` is from `now`: "in 3 s", "2 min ago", "now". */
function relative(date, now = Date.now()) {
  const seconds = (date.getTime() - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 1) return 'now';
  let text;
  if (abs < 60) text = `${Math.floor(abs)} s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)} min`;
  else if (abs < 86400) {
    const hours = Math.floor(abs / 3600);
    const minutes = Math.floor((abs % 3600) / 60);
    text = minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  } else if (abs < 86400 * 365) text = `${Math.floor(abs / 86400)} d`;
  else text = `${(abs / (86400 * 365)).toFixed(1)} y`;
  return seconds > 0 ? `in ${text}` : `${text} ago`;
}

/**
 * An instant as the console shows it: local time in a `<time>` (UTC on hover), then how
 * far it is from now, kept current by `tick`. `—` when there is none.
 */
export function when(text, { ms = false, rel = true } = {}) {
  const date = parseTime(text);
  if (!date) return h('span', { class: 'none' }, '—');
  return h('span', { class: 'when' },
    h('time', { datetime: date.toISOString(), title: utcTime(date) }, localTime(date, { ms })),
    rel ? h('span', { class: 'rel', dataset: { rel: date.toISOString() } }, relative(date)) : null);
}

/** Brings every relative time on the page up to date; `main.js` runs it every second. */
export function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-rel]')) {
    const text = relative(new Date(el.dataset.rel), now);
    if (el.textContent !== text) el.textContent = text;
  }
}

/** A duration in milliseconds, readably: "840 µs", "12 ms", "1.4 s", "2 min 5 s". */
export function millis(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1).replace(/\.0$/, '') : Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** A rate per second, readably. */
export function rate(perSecond) {
  if (perSecond === null || perSecond === undefined) return '—';
  if (perSecond === 0) return '0';
  if (perSecond < 0.1) return perSecond.toFixed(3);
  if (perSecond < 10) return perSecond.toFixed(2);
  return Math.round(perSecond).toLocaleString();
}

/** `n` and a noun, plural unless one: "1 call", "3 calls". */
export function plural(n, noun, nouns = `${noun}s`) {
  return `${count(n)} ${n === 1 ? noun : nouns}`;
}

/** A count, with the locale's grouping. */
export function count(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString();
}

/** Which kind a schedule is: the field that sets it. */
export function scheduleKind(schedule) {
  return SCHEDULE_KINDS.find((kind) => schedule && kind in schedule) ?? null;
}

/** A schedule in a few words: "every 2s", "cron 0 30 9 * * MON-FRI (Europe/Paris)". */
export function scheduleSummary(schedule) {
  const kind = scheduleKind(schedule);
  const parts = [];
  switch (kind) {
    case 'at': {
      const at = parseTime(schedule.at);
      parts.push(`at ${at ? localTime(at) : schedule.at}`);
      break;
    }
    case 'after': parts.push(`after ${schedule.after}`); break;
    case 'every': parts.push(`every ${schedule.every}`); break;
    case 'cron': parts.push(`cron ${schedule.cron}`); break;
    case 'iso': parts.push(`iso ${schedule.iso}`); break;
    default: return 'unknown schedule';
  }
  if (schedule.timezone && schedule.timezone !== 'UTC') parts.push(`(${schedule.timezone})`);
  if (schedule.max_runs) parts.push(`× ${schedule.max_runs}`);
  const end = parseTime(schedule.end_at ?? schedule.stop_at);
  if (end) parts.push(`until ${localTime(end)}`);
  return parts.join(' ');
}

/** Where a call goes, in a few words: "POST https://…", "nats billing.due", "topic orders". */
export function targetSummary(target) {
  if (!target) return '—';
  if (target.http) return `${target.http.method ?? 'POST'} ${target.http.url}`;
  if (target.nats) return `NATS ${target.nats.subject}`;
  if (target.topic) return `topic ${typeof target.topic === 'string' ? target.topic : target.topic.name}`;
  if (target.command) return `command ${target.command.run}`;
  return '—';
}

/** JSON, indented for reading. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}
