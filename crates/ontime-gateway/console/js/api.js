// The REST API's client: every call the console makes goes through `call`, which sends the
// token, reads the JSON answer and turns a refusal into an `ApiError` carrying the API's
// `error`, `message`, `field` and `position`.

const TOKEN_KEY = 'ontime.token';

/**
 * The token of this tab. Kept in sessionStorage: it survives a reload but not the tab, and
 * other tabs and later visits do not see it (a bearer token, often an admin's, is better
 * forgotten with its tab than left in the browser's profile).
 */
export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A request the API refused, or could not be made. */
export class ApiError extends Error {
  constructor({ status, code, message, field = null, position = null, method, path }) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.position = position;
    this.method = method;
    this.path = path;
  }
}

let unauthorized = () => {};

/** What to do when the API answers 401 (the token is missing, unknown, revoked or expired). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/**
 * Calls the API: `{status, data}` for a 2xx, an `ApiError` thrown otherwise. `query` values
 * that are arrays repeat the parameter; empty ones are left out. `signal` aborts the call.
 * A 401 also goes to the `onUnauthorized` handler unless `login` is set (the login form
 * reports it itself).
 */
export async function call(method, path, { query, body, headers = {}, signal, login = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const one of [value].flat()) {
      if (one !== undefined && one !== null && one !== '') url.searchParams.append(name, one);
    }
  }
  const init = { method, headers: { accept: 'application/json', ...headers }, cache: 'no-store', signal };
  const token = session.token;
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const where = `${method} ${url.pathname}`;
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError({ status: 0, code: 'unreachable', message: `the API could not be reached (${e.message})`, method, path: url.pathname });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.ok) return { status: response.status, data };
  const shaped = data && typeof data === 'object';
  const error = new ApiError({
    status: response.status,
    code: shaped && data.error ? data.error : `http_${response.status}`,
    message: shaped && data.message ? data.message : `${where} answered ${response.status} ${response.statusText}`.trim(),
    field: shaped ? data.field ?? null : null,
    position: shaped ? data.position ?? null : null,
    method,
    path: url.pathname,
  });
  if (response.status === 401 && !login) unauthorized(error);
  throw error;
}

const enc = encodeURIComponent;
const nsPath = (ns) => `/v1/namespaces/${enc(ns)}`;
const timerPath = (ns, id) => `${nsPath(ns)}/timers/${enc(id)}`;
const letterPath = (ns, id) => `${nsPath(ns)}/dead-letters/${enc(id)}`;
const topicPath = (ns, topic) => `${nsPath(ns)}/topics/${enc(topic)}`;
const subscriberPath = (ns, topic, sub) => `${topicPath(ns, topic)}/subscribers/${enc(sub)}`;
const ifMatch = (revision) => (revision === undefined ? {} : { 'if-match': String(revision) });

/**
 * Whether the API needs a token, and whether the current one is good: `open` (no tokens),
 * `ok` (the token is accepted) or an `ApiError` thrown (401: none or a refused one). A
 * schedule's preview is the cheapest route that checks a token and touches no namespace.
 */
export async function probe() {
  await call('GET', '/v1/schedules:preview', { query: { every: '1h', count: 1 }, login: true });
  return session.token ? 'ok' : 'open';
}

/** The namespaces the caller may see that hold timers or topics. */
export async function namespaces() {
  return (await call('GET', '/v1/namespaces')).data.namespaces;
}

export const timers = {
  list: (ns, query) => call('GET', `${nsPath(ns)}/timers`, { query }),
  get: (ns, id) => call('GET', timerPath(ns, id)),
  create: (ns, doc) => call('POST', `${nsPath(ns)}/timers`, { body: doc }),
  replace: (ns, id, spec, revision) => call('PUT', timerPath(ns, id), { body: spec, headers: ifMatch(revision) }),
  patch: (ns, id, patch, revision) => call('PATCH', timerPath(ns, id), { body: patch, headers: ifMatch(revision) }),
  remove: (ns, id) => call('DELETE', timerPath(ns, id)),
  act: (ns, id, action) => call('POST', `${timerPath(ns, id)}:${action}`),
  executions: (ns, id, query) => call('GET', `${timerPath(ns, id)}/executions`, { query }),
};

/** The schedule fields a preview takes (the policies, such as `misfire`, are not its business). */
const PREVIEW_FIELDS = ['at', 'after', 'cron', 'every', 'iso', 'timezone', 'start_at', 'end_at', 'max_runs'];

/** The next `count` occurrences of `schedule` (as a timer's), `{schedule, from, occurrences}`. */
export async function preview(schedule, { count = 10, signal } = {}) {
  const query = { count };
  for (const name of PREVIEW_FIELDS) {
    if (schedule[name] !== undefined && schedule[name] !== null) query[name] = schedule[name];
  }
  return (await call('GET', '/v1/schedules:preview', { query, signal })).data;
}

export const letters = {
  list: (ns, query) => call('GET', `${nsPath(ns)}/dead-letters`, { query }),
  get: (ns, id) => call('GET', letterPath(ns, id)),
  replay: (ns, id) => call('POST', `${letterPath(ns, id)}:replay`),
  discard: (ns, id) => call('DELETE', letterPath(ns, id)),
};

export const topics = {
  list: (ns, query) => call('GET', `${nsPath(ns)}/topics`, { query }),
  get: (ns, topic) => call('GET', topicPath(ns, topic)),
  put: (ns, topic, spec) => call('PUT', topicPath(ns, topic), { body: spec }),
  remove: (ns, topic) => call('DELETE', topicPath(ns, topic)),
  subscribers: (ns, topic, query) => call('GET', `${topicPath(ns, topic)}/subscribers`, { query }),
  putSubscriber: (ns, topic, sub, spec) => call('PUT', subscriberPath(ns, topic, sub), { body: spec }),
  removeSubscriber: (ns, topic, sub) => call('DELETE', subscriberPath(ns, topic, sub)),
};

/** `/metrics` in Prometheus's text format (open: no token needed). */
export async function metricsText(signal) {
  const response = await fetch('/metrics', { cache: 'no-store', signal });
  if (!response.ok) {
    throw new ApiError({ status: response.status, code: `http_${response.status}`, message: `GET /metrics answered ${response.status}`, method: 'GET', path: '/metrics' });
  }
  return response.text();
}
