// A few lines instead of a framework: build DOM nodes from data, never from HTML strings, so that nothing a
// diagram or the API says can become markup.

/**
 * h('button', { class: 'primary', onClick: save, disabled: !ready }, 'Save')
 * Attributes that are null, undefined or false are left out; true gives an empty attribute; on* names
 * add event listeners; children may be nodes, strings, numbers, arrays, or null (skipped).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      element.className = value;
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

/** '3 Dec 2026, 14:05' in the reader's time zone, or '' for nothing. */
export function formatWhen(iso) {
  if (!iso) return '';
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : dateTime.format(when);
}

/** 5400 → '1 h 30 min'; null → '—'. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/** The first of ``names`` that ``object`` has (not null): for fields the API may or may not send yet. */
export function fieldOf(object, ...names) {
  for (const name of names) {
    if (object && object[name] !== undefined && object[name] !== null) return object[name];
  }
  return undefined;
}

/** Calls ``fn`` once ``wait`` ms have passed without another call; ``.cancel()`` forgets a pending call. */
export function debounce(fn, wait) {
  let timer;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

/** Makes ``filename`` with ``text`` a download, as a browser saves a file. */
export function download(filename, text, type = 'application/xml') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** "client:7:jo designer" or "cli:jo" (how the API names who did something) → "jo designer", "jo". */
export function who(actor) {
  if (!actor) return '—';
  const named = /^(?:client:\d+|cli):(.*)$/.exec(actor);
  return named ? named[1] : actor;
}
