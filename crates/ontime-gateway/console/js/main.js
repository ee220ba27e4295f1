// The console's shell: finds out whether the API needs a token, keeps the header (namespace,
// navigation, live strip) in step with the page, and renders the page the hash names.

import { h, replace, show } from './dom.js';
import { onUnauthorized, probe, session } from './api.js';
import { current, go, href, table } from './router.js';
import { tick } from './format.js';
import { currentNamespace, knownNamespaces, useNamespace, validName } from './namespaces.js';
import { errorBox, loading, toast } from './ui.js';
import * as strip from './strip.js';
import * as login from './pages/login.js';
import * as home from './pages/home.js';
import * as timers from './pages/timers.js';
import * as timer from './pages/timer.js';
import * as create from './pages/create.js';
import * as letters from './pages/letters.js';
import * as letter from './pages/letter.js';
import * as topics from './pages/topics.js';
import * as topic from './pages/topic.js';
import * as live from './pages/live.js';

const NS = '/ns/([^/]+)';
const match = table([
  [/^\/$/, [], home],
  [/^\/login$/, [], login],
  [/^\/live$/, [], live],
  [new RegExp(`^${NS}/timers$`), ['ns'], timers],
  [new RegExp(`^${NS}/timers/([^/]+)$`), ['ns', 'id'], timer],
  [new RegExp(`^${NS}/new$`), ['ns'], create],
  [new RegExp(`^${NS}/dead-letters$`), ['ns'], letters],
  [new RegExp(`^${NS}/dead-letters/([^/]+)$`), ['ns', 'id'], letter],
  [new RegExp(`^${NS}/topics$`), ['ns'], topics],
  [new RegExp(`^${NS}/topics/([^/]+)$`), ['ns', 'topic'], topic],
]);

/** The sections of the navigation that belong to a namespace, and the page each opens. */
const NAMESPACED = {
  timers: (ns) => href.timers(ns),
  create: (ns) => href.create(ns),
  letters: (ns) => href.letters(ns),
  topics: (ns) => href.topics(ns),
};

const app = {
  /** `open` (the API takes no token), `token` (signed in), or null (not yet). */
  access: null,
  /** The page to go back to once signed in. */
  returnTo: null,
  /** Why the login page is shown, if not for the first time. */
  reason: null,
  /** What the current page asked to run when it is left. */
  cleanups: [],
  /** Stops the live strip (shown on every page but the login). */
  stripOff: null,
};

const el = {
  header: document.getElementById('top'),
  main: document.getElementById('main'),
  nsForm: document.getElementById('ns-form'),
  nsInput: document.getElementById('ns-input'),
  nsOptions: document.getElementById('ns-options'),
  access: document.getElementById('access'),
  signOut: document.getElementById('sign-out'),
  strip: document.getElementById('strip'),
};

/** Signed in (or found open): shows the console, then the page asked for. */
app.signedIn = (access) => {
  app.access = access;
  app.reason = null;
  const to = app.returnTo && app.returnTo !== href.login() ? app.returnTo : href.home();
  app.returnTo = null;
  refreshNamespaces();
  if (current().hash === to) render();
  else go(to);
};

onUnauthorized((error) => {
  if (app.access === 'open' || current().path === '/login') return;
  session.signOut();
  app.access = null;
  app.reason = error.message;
  app.returnTo = current().hash;
  go(href.login());
});

el.signOut.addEventListener('click', () => {
  session.signOut();
  app.access = null;
  app.reason = 'Signed out.';
  app.returnTo = null;
  go(href.login());
});

el.nsForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = el.nsInput.value.trim();
  if (!validName(name)) {
    toast(`"${name}" is not a namespace name: 1 to 64 of A-Z a-z 0-9 . _ -`, 'error');
    return;
  }
  useNamespace(name);
  const section = current().path.match(/^\/ns\/[^/]+\/(timers|new|dead-letters|topics)/)?.[1];
  const page = { new: 'create', 'dead-letters': 'letters' }[section] ?? section ?? 'timers';
  go(NAMESPACED[page](name));
});

/** Fills the namespace picker's suggestions. */
async function refreshNamespaces() {
  const { listed, typed } = await knownNamespaces();
  replace(el.nsOptions, [...(listed ?? []), ...typed].map((name) => h('option', { value: name })));
}

/** Brings the header in step with the page: namespace, links, the current section. */
function updateHeader(path, ns) {
  const signedIn = app.access !== null;
  show(el.header, signedIn);
  if (!signedIn) return;
  const namespace = ns ?? currentNamespace();
  if (ns) el.nsInput.value = ns;
  else if (namespace && !el.nsInput.value) el.nsInput.value = namespace;
  for (const link of el.header.querySelectorAll('[data-nav]')) {
    const page = link.dataset.nav;
    if (NAMESPACED[page]) link.href = namespace ? NAMESPACED[page](namespace) : href.home();
    const section = {
      timers: /^\/ns\/[^/]+\/timers/, create: /^\/ns\/[^/]+\/new$/, letters: /^\/ns\/[^/]+\/dead-letters/,
      topics: /^\/ns\/[^/]+\/topics/, live: /^\/live$/, home: /^\/$/,
    }[page];
    if (section?.test(path)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  el.access.textContent = app.access === 'open' ? 'No tokens: this API is open' : 'Signed in with a token';
  show(el.signOut, app.access === 'token');
}

/** Renders the page the hash names, after the previous page's cleanups. */
function render() {
  for (const cleanup of app.cleanups.splice(0)) cleanup();
  const { path, query, hash } = current();
  if (app.access === null && path !== '/login') {
    app.returnTo = hash;
    go(href.login());
    return;
  }
  const found = match(path);
  const ns = found?.params.ns;
  if (ns && validName(ns)) useNamespace(ns);
  updateHeader(path, ns);
  const container = h('div', { class: 'page' });
  replace(el.main, container);
  if (path !== '/login' && !app.stripOff) app.stripOff = strip.attach(el.strip);
  if (path === '/login' && app.stripOff) {
    app.stripOff();
    app.stripOff = null;
  }
  if (!found) {
    replace(container, errorBox(new Error(`No page at ${hash}.`), { title: 'Not found' }), h('p', {}, h('a', { href: href.home() }, 'Back to the namespaces')));
    return;
  }
  const view = {
    params: found.params,
    query,
    main: container,
    app,
    title: (text) => {
      document.title = `${text} · ontime`;
    },
    onLeave: (fn) => app.cleanups.push(fn),
    refreshNamespaces,
  };
  Promise.resolve(found.page.render(view))
    .then(() => {
      // Screen readers start from the page's title, unless the page focused a control itself.
      if (!container.contains(document.activeElement)) container.querySelector('h1')?.focus({ preventScroll: true });
    })
    .catch((e) => replace(container, errorBox(e, { title: 'This page could not be shown' })));
}

/** Finds out whether a token is needed (and whether the one kept is still good), then starts. */
async function boot() {
  replace(el.main, loading('Connecting to the API…'));
  setInterval(tick, 1000);
  window.addEventListener('hashchange', render);
  try {
    app.access = (await probe()) === 'open' ? 'open' : 'token';
    refreshNamespaces();
  } catch (e) {
    if (e.status !== 401) {
      replace(el.main, errorBox(e, { title: 'The API could not be reached' }),
        h('button', { class: 'primary', onclick: () => window.location.reload() }, 'Try again'));
      return;
    }
    if (session.token) {
      session.signOut();
      app.reason = e.message;
    }
  }
  render();
}

boot();
