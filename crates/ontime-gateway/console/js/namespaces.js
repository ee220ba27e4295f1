// The namespace the console works in, and the ones it knows: those the API lists
// (`GET /v1/namespaces`: the ones holding timers or topics that the token covers) and those
// typed by hand in this tab (a namespace exists once something is put in it).

import { namespaces as listNamespaces } from './api.js';

const CURRENT = 'ontime.namespace';
const TYPED = 'ontime.namespaces.typed';

/** Whether `name` is a namespace the API accepts: 1-64 of A-Z a-z 0-9 . _ -, not . or .. */
export function validName(name) {
  return /^[A-Za-z0-9._-]{1,64}$/.test(name) && name !== '.' && name !== '..';
}

/** The namespace last worked in, if any. */
export function currentNamespace() {
  return localStorage.getItem(CURRENT);
}

/** Works in `name` from now on, and remembers it for this tab. */
export function useNamespace(name) {
  localStorage.setItem(CURRENT, name);
  const typed = typedNamespaces();
  if (!typed.includes(name)) sessionStorage.setItem(TYPED, JSON.stringify([...typed, name]));
}

function typedNamespaces() {
  try {
    return JSON.parse(sessionStorage.getItem(TYPED) ?? '[]');
  } catch {
    return [];
  }
}

/**
 * The namespaces to offer: `{listed, typed, error}`. `listed` is null when the API could not
 * list them (`error` says why: an older server without the route answers 404), `typed` the
 * ones used in this tab that the API did not list.
 */
export async function knownNamespaces() {
  let listed = null;
  let error = null;
  try {
    listed = await listNamespaces();
  } catch (e) {
    error = e;
  }
  const typed = typedNamespaces().filter((name) => !listed?.includes(name)).sort();
  return { listed, typed, error };
}
