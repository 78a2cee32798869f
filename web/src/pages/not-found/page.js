import { h } from '../../app/dom.js';

export function render({ main }) {
  main.append(
    h('h1', {}, 'Page not found'),
    h('p', {}, 'There is no page at this address. ', h('a', { href: '/studio/' }, 'Go to the pathway library'), '.'),
  );
}
