// Hash routing: `#/ns/shop/timers/order-42?…` names a page and its parameters, so that every
// page has a link, a reload keeps it and the browser's Back works.

const enc = encodeURIComponent;

function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const one of [value].flat()) {
      if (one !== undefined && one !== null && (one !== '' || name === 'back')) params.append(name, one);
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** The links of every page. */
export const href = {
  home: () => '#/',
  login: () => '#/login',
  live: () => '#/live',
  timers: (ns, query) => withQuery(`#/ns/${enc(ns)}/timers`, query),
  timer: (ns, id) => `#/ns/${enc(ns)}/timers/${enc(id)}`,
  create: (ns) => `#/ns/${enc(ns)}/new`,
  letters: (ns) => `#/ns/${enc(ns)}/dead-letters`,
  letter: (ns, id) => `#/ns/${enc(ns)}/dead-letters/${enc(id)}`,
  topics: (ns, query) => withQuery(`#/ns/${enc(ns)}/topics`, query),
  topic: (ns, topic, query) => withQuery(`#/ns/${enc(ns)}/topics/${enc(topic)}`, query),
};

/** Goes to `hash` (a link of `href`). */
export function go(hash) {
  window.location.hash = hash;
}

/** Where the browser is: the path and query of the hash. */
export function current() {
  const hash = window.location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  return { path, query: new URLSearchParams(query), hash: `#${hash}` };
}

/**
 * A table of routes: `[pattern, [names of its groups], page]`. `match(path)` gives the page
 * and its decoded parameters, or null.
 */
export function table(routes) {
  return (path) => {
    for (const [pattern, names, page] of routes) {
      const m = pattern.exec(path);
      if (!m) continue;
      const params = {};
      names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]);
      });
      return { page, params };
    }
    return null;
  };
}
