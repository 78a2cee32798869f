import { h } from '../../app/dom.js';
import { signInForm } from '../../app/sign-in-form.js';

/** Only paths within the application are followed after signing in (no open redirect). */
function safeNext(query) {
  const next = query.get('next') || '/studio/';
  return next.startsWith('/studio/') && !next.startsWith('//') ? next : '/studio/';
}

export function render({ main, query, navigate, announce }) {
  main.append(
    h(
      'section',
      { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
      h('h1', { id: 'sign-in-title' }, 'Sign in to the Signpost studio'),
      h(
        'p',
        {},
        'The studio uses Signpost’s API with your own API token: you see and change exactly what that ' +
          'token may, and everything you do is in the audit trail under your name.',
      ),
      signInForm({
        onSignedIn: async () => {
          await navigate(safeNext(query), { replace: true });
          announce('Signed in.');
        },
      }),
    ),
  );
}
