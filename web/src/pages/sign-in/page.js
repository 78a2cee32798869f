import { h } from '../../app/dom.js';
import { configuredIssuer, issuerSignInLink, tokenSignInInstead } from '../../app/issuer-sign-in.js';
import { signInForm } from '../../app/sign-in-form.js';

/** Only paths within the application are followed after signing in (no open redirect). */
function safeNext(query) {
  const next = query.get('next') || '/studio/';
  const inApplication = next.startsWith('/studio/') || next.startsWith('/console/');
  return inApplication && !next.includes('//') && !next.includes('\\') ? next : '/studio/';
}

export async function render({ main, query, navigate, announce }) {
  const next = safeNext(query);
  // Set by the server when a sign-in at the issuer was refused: the reason, in a sentence.
  const problem = query.get('problem');
  const section = h(
    'section',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in to the Signpost studio'),
    problem ? h('p', { class: 'form-error', role: 'alert' }, `You were not signed in: ${problem}.`) : null,
    h(
      'p',
      {},
      'The studio uses Signpost’s API as you: you see and change exactly what your account may, and ' +
        'everything you do is in the audit trail under your name.',
    ),
  );
  main.append(section);
  const issuer = await configuredIssuer();
  const tokenForm = signInForm({
    autofocus: !issuer,
    onSignedIn: async () => {
      await navigate(next, { replace: true });
      announce('Signed in.');
    },
  });
  if (issuer) {
    section.append(
      issuerSignInLink(issuer, next),
      tokenSignInInstead(tokenForm),
    );
  } else {
    section.append(tokenForm);
  }
}
