// RFC 7396 JSON merge patches, made from two versions of a document: what a PATCH must send
// to turn `before` into `after`.

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Whether two JSON values are the same. */
export function same(a, b) {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && same(a[k], b[k]));
  }
  return false;
}

/**
 * The merge patch from `before` to `after`: keys gone are `null`, objects changed are
 * patched key by key, anything else changed is sent whole; `undefined` when nothing changed.
 */
export function mergeDiff(before, after) {
  if (!isObject(before) || !isObject(after)) return same(before, after) ? undefined : after;
  const patch = {};
  for (const key of Object.keys(before)) {
    if (!(key in after)) patch[key] = null;
  }
  for (const [key, value] of Object.entries(after)) {
    const sub = key in before ? mergeDiff(before[key], value) : value;
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length ? patch : undefined;
}
