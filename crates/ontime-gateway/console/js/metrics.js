// Live figures from `/metrics`: scraped every few seconds, rates taken from the difference
// between two scrapes, percentiles from the histograms' buckets (those of the samples
// recorded between the two scrapes, as Prometheus's histogram_quantile over a rate).

import { metricsText } from './api.js';

/** How often the figures are refreshed. */
export const PERIOD_MS = 3000;
/** How many past figures the charts keep (3 minutes). */
const HISTORY = 60;

const NAMES = {
  attempts: 'ontime_worker_attempts_total',
  inFlight: 'ontime_worker_in_flight',
  deadLetters: 'ontime_worker_dead_letters_total',
  lateness: 'ontime_worker_lateness_seconds',
  latency: 'ontime_worker_call_latency_seconds',
  fires: 'ontime_scheduler_fires_total',
  fireLateness: 'ontime_scheduler_fire_lateness_seconds',
  commands: 'ontime_scheduler_commands_total',
  queueDepth: 'ontime_scheduler_queue_depth',
  wakeUpsPending: 'ontime_scheduler_wake_ups_pending',
  callsPending: 'ontime_scheduler_calls_pending',
  flowWaiting: 'ontime_worker_flow_waiting',
  flowWait: 'ontime_worker_flow_wait_seconds',
};

/** The attempt outcomes counted as failed calls: retried, or failed for good. */
const FAILED = new Set(['retrying', 'failed']);

/** Prometheus's text format as `[{name, labels, value}]`. */
function parse(text) {
  const samples = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split('\n')) {
    if (!raw || raw.startsWith('#')) continue;
    const m = line.exec(raw);
    if (!m) continue;
    const labels = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(label)) {
      labels[key] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels pass `keep`; null when there are none. */
function total(samples, name, keep = () => true) {
  let sum = null;
  for (const s of samples) {
    if (s.name === name && keep(s.labels)) sum = (sum ?? 0) + s.value;
  }
  return sum;
}

/** A histogram's cumulative buckets, `[[le, count]]` by bound, summed over its series. */
function buckets(samples, name) {
  const byBound = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + s.value);
  }
  return [...byBound.entries()].sort((a, b) => a[0] - b[0]);
}

/** The buckets gained between two scrapes (all of `now` after a restart reset them). */
function bucketsSince(now, before) {
  if (!before) return now;
  const old = new Map(before);
  const diff = now.map(([le, n]) => [le, n - (old.get(le) ?? 0)]);
  return diff.some(([, n]) => n < 0) ? now : diff;
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly within its bucket (as
 * histogram_quantile does); null without samples. In the +Inf bucket: its lower bound.
 */
function quantile(q, cumulative) {
  const count = cumulative.length ? cumulative[cumulative.length - 1][1] : 0;
  if (!count) return null;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [le, n] of cumulative) {
    if (n >= rank) {
      if (le === Infinity) return lower;
      return n === below ? le : lower + ((le - lower) * (rank - below)) / (n - below);
    }
    lower = le;
    below = n;
  }
  return lower;
}

/** Percentiles in milliseconds of cumulative buckets in seconds. */
function percentiles(cumulative) {
  const at = (q) => {
    const v = quantile(q, cumulative);
    return v === null ? null : v * 1000;
  };
  const samples = cumulative.length ? cumulative[cumulative.length - 1][1] : 0;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), samples };
}

/** What one scrape says, with the rates since the scrape before (`previous`, or none). */
function figures(samples, at, previous) {
  const attempts = total(samples, NAMES.attempts);
  const failed = total(samples, NAMES.attempts, (l) => FAILED.has(l.outcome));
  const fires = total(samples, NAMES.fires);
  const commands = total(samples, NAMES.commands);
  const deadLetters = total(samples, NAMES.deadLetters);
  const lateness = buckets(samples, NAMES.lateness);
  const latency = buckets(samples, NAMES.latency);
  const fireLateness = buckets(samples, NAMES.fireLateness);
  const flowWait = buckets(samples, NAMES.flowWait);
  const seconds = previous ? (at - previous.at) / 1000 : null;
  const perSecond = (now, before) => {
    if (seconds === null || now === null || before === null || before === undefined) return null;
    return Math.max(0, now >= before ? now - before : now) / seconds;
  };
  const byOutcome = new Map();
  for (const s of samples) {
    if (s.name !== NAMES.attempts) continue;
    const key = `${s.labels.outcome ?? '?'} ${s.labels.status_class ?? '?'}`;
    byOutcome.set(key, { outcome: s.labels.outcome, statusClass: s.labels.status_class, count: (byOutcome.get(key)?.count ?? 0) + s.value });
  }
  return {
    at,
    seconds,
    worker: attempts !== null || lateness.length > 0,
    scheduler: fires !== null,
    totals: { attempts, failed, fires, commands, deadLetters },
    callsPerSecond: perSecond(attempts, previous?.totals.attempts),
    failedPerSecond: perSecond(failed, previous?.totals.failed),
    firesPerSecond: perSecond(fires, previous?.totals.fires),
    commandsPerSecond: perSecond(commands, previous?.totals.commands),
    inFlight: total(samples, NAMES.inFlight),
    queueDepth: total(samples, NAMES.queueDepth),
    // Null where the process has no such gauge (a part that does not run here).
    wakeUpsPending: total(samples, NAMES.wakeUpsPending),
    callsPending: total(samples, NAMES.callsPending),
    flowWaiting: total(samples, NAMES.flowWaiting),
    byOutcome: [...byOutcome.values()].sort((a, b) => b.count - a.count),
    // Over the last interval, and since the process started.
    lateness: { recent: percentiles(bucketsSince(lateness, previous?.raw.lateness)), overall: percentiles(lateness) },
    latency: { recent: percentiles(bucketsSince(latency, previous?.raw.latency)), overall: percentiles(latency) },
    fireLateness: { recent: percentiles(bucketsSince(fireLateness, previous?.raw.fireLateness)), overall: percentiles(fireLateness) },
    flowWait: { recent: percentiles(bucketsSince(flowWait, previous?.raw.flowWait)), overall: percentiles(flowWait) },
    raw: { lateness, latency, fireLateness, flowWait },
  };
}

/**
 * Scrapes `/metrics` every `PERIOD_MS` while anyone listens and the tab is visible: `subscribe(fn)` calls `fn` with
 * `{latest, history, error}` after each scrape (and at once with what is known), and returns
 * the function that stops listening.
 */
class Poller {
  constructor() {
    this.listeners = new Set();
    this.history = [];
    this.error = null;
    this.timer = null;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    if (this.history.length || this.error) listener(this.state());
    if (!this.timer) {
      this.scrape();
      // A hidden tab reads nothing; its first reading back makes no rate (see `scrape`).
      this.timer = setInterval(() => document.hidden || this.scrape(), PERIOD_MS);
    }
    return () => {
      this.listeners.delete(listener);
      if (!this.listeners.size) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  state() {
    return { latest: this.history[this.history.length - 1] ?? null, history: this.history, error: this.error };
  }

  async scrape() {
    try {
      const text = await metricsText();
      const previous = this.history[this.history.length - 1];
      // A gap (the page was hidden, the poller stopped) makes no rate.
      const recent = previous && Date.now() - previous.at < PERIOD_MS * 3 ? previous : null;
      this.history.push(figures(parse(text), Date.now(), recent));
      if (this.history.length > HISTORY) this.history.shift();
      this.error = null;
    } catch (e) {
      this.error = e;
    }
    for (const listener of this.listeners) listener(this.state());
  }
}

export const live = new Poller();
