// Where a sign-in made in a tab of its own (from the "session has ended" dialog) lands.

import { h } from '../../app/dom.js';
import { session } from '../../app/session.js';

export function render({ main }) {
  const person = session.person;
  main.append(
    h(
      'section',
      { class: 'sign-in', 'aria-labelledby': 'signed-in-title' },
      h('h1', { id: 'signed-in-title' }, 'You are signed in'),
      h(
        'p',
        {},
        `Signed in as ${session.displayName()} (${person.organisation}). Close this tab and go back `,
        'to the one you were working in: choose “Continue” there.',
      ),
    ),
  );
}
