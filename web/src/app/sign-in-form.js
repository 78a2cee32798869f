// The sign-in form, used by the sign-in page and by the "your session has ended" dialog.

import { ApiError, describe } from './api.js';
import { h } from './dom.js';
import { session } from './session.js';

let formCount = 0;

/** A form that signs in with an API token and then calls ``onSignedIn()``. */
export function signInForm({ onSignedIn, autofocus = true }) {
  formCount += 1;
  const id = `token-${formCount}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const input = h('input', {
    id,
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': hintId,
    autofocus,
  });
  const error = h('p', { id: errorId, class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in-form', novalidate: true },
    h('label', { for: id }, 'API token'),
    h(
      'p',
      { id: hintId, class: 'hint' },
      'Paste the token an administrator gave you (development: ',
      h('code', {}, 'signpost clients create --role designer …'),
      '). It is sent to Signpost once and kept in a secure cookie this page cannot read.',
    ),
    input,
    error,
    button,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    const token = input.value.trim();
    if (!token) {
      fail('Paste your API token first.');
      return;
    }
    button.disabled = true;
    try {
      await session.signIn(token);
      input.value = '';
      await onSignedIn();
    } catch (problem) {
      if (problem instanceof ApiError && problem.status === 401) {
        fail('That token was not accepted: it may be mistyped, expired or revoked.');
      } else {
        fail(describe(problem));
      }
    } finally {
      button.disabled = false;
    }
  });

  function fail(message) {
    error.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', `${hintId} ${errorId}`);
    input.focus();
  }

  return form;
}
