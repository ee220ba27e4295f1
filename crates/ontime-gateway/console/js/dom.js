// Building the DOM without HTML strings: every text goes in as text, never as markup, and no
// element gets a `style` attribute (the console's Content-Security-Policy allows none).

/**
 * An element: `h('a', {href: '#/', class: 'nav'}, 'Home')`.
 * Attributes: `class` (a string or an array, falsy entries dropped), `dataset`, `on<event>`
 * (a listener), `value` and `checked` (set as properties, after the children, so that a
 * select's value finds its options); anything else is an attribute (`true` is present,
 * `false`, `null` and `undefined` are absent). Children: nodes, strings, numbers, arrays of
 * them; `null`, `undefined` and `false` are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element, with the same arguments as `h`. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build(el, attrs, children) {
  const late = {};
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (key === 'style') throw new Error('inline styles are refused by the console\'s policy');
    if (key === 'value' || key === 'checked') late[key] = value;
    else if (key === 'class') el.setAttribute('class', classes(value));
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  append(el, children);
  for (const [key, value] of Object.entries(late)) {
    if (value !== undefined && value !== null) el[key] = value;
  }
  return el;
}

function classes(value) {
  return Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
}

/** Appends `children` (as `h` takes them) to `el`. */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

/** A label and its control, tied by id: `field('Delay', h('input', {id: 'after'}))`. */
export function field(label, control, hint) {
  const hintEl = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** Shows or hides `el` (the `hidden` attribute). */
export function show(el, visible) {
  el.hidden = !visible;
}
