// Signing in at the organisation's OpenID Connect issuer: the browser leaves for the issuer's page and comes
// back to Signpost's server, which finishes the sign-in and sets the session cookie (no token reaches this
// script). Whether an issuer is configured is asked once per page load.

import { api } from './api.js';
import { h } from './dom.js';

let asked = null;

/** The issuer people sign in at ({ issuer, start }), or null when only API tokens sign in. */
export function configuredIssuer() {
  asked ??= api('/api/v1/session/sign-in-options')
    .then((options) => options?.openid_connect || null)
    .catch(() => null);
  return asked;
}

let linkCount = 0;

/**
 * A link that signs in at the issuer and then opens ``next``. With ``newTab`` the sign-in happens in a
 * tab of its own, so that the page the person was working on stays as it was.
 */
export function issuerSignInLink(issuer, next, { newTab = false } = {}) {
  linkCount += 1;
  const hintId = `issuer-hint-${linkCount}`;
  const host = new URL(issuer.issuer).host;
  return h(
    'div',
    { class: 'issuer-sign-in' },
    h(
      'a',
      {
        class: 'button primary',
        href: `${issuer.start}?${new URLSearchParams({ next })}`,
        target: newTab ? '_blank' : null,
        rel: newTab ? 'noopener' : null,
        'aria-describedby': hintId,
      },
      `Sign in with your organisation’s account${newTab ? ' (new tab)' : ''}`,
    ),
    h(
      'p',
      { id: hintId, class: 'hint' },
      newTab
        ? `You sign in at ${host} in a new tab; then come back to this one.`
        : `You sign in at ${host} and come back here.`,
    ),
  );
}

/** The API-token sign-in, folded away below the issuer's: for development and service accounts. */
export function tokenSignInInstead(tokenForm) {
  return h(
    'details',
    { class: 'token-sign-in' },
    h('summary', {}, 'Sign in with an API token instead'),
    tokenForm,
  );
}
