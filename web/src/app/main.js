// The application's shell: finds the page the address names, makes sure someone is signed in, draws the
// navigation and who is signed in, and asks the person to sign in again when their session ends.

import { describe } from './api.js';
import { h } from './dom.js';
import { session } from './session.js';
import { configuredIssuer, issuerSignInLink, tokenSignInInstead } from './issuer-sign-in.js';
import { signInForm } from './sign-in-form.js';
import { match, pages } from '../pages/index.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const announcer = document.getElementById('announcer');

let current = null; // { page, view } of the page on screen
let showing = 0; // the latest navigation wins when pages load slowly

export function announce(text) {
  announcer.textContent = '';
  // A fresh text node after a tick, so that the same sentence twice is read twice.
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

export async function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  if (!(await mayLeave())) return;
  history[replace ? 'replaceState' : 'pushState']({}, '', path);
  await show();
}

async function mayLeave() {
  if (!current?.view?.leave) return true;
  return (await current.view.leave()) !== false;
}

async function show({ firstLoad = false } = {}) {
  const number = ++showing;
  const { page, params } = match(location.pathname);
  if (!page.public && !session.person) {
    let signedIn;
    try {
      signedIn = await session.load();
    } catch (error) {
      main.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, describe(error)));
      return undefined;
    }
    if (!signedIn) {
      const next = location.pathname + location.search;
      history.replaceState({}, '', `/studio/sign-in?next=${encodeURIComponent(next)}`);
      return show({ firstLoad });
    }
  }
  if (!mayOpen(page)) {
    // The application's front page is the studio's library; someone who works referrals rather than
    // pathways starts at the first page their roles open.
    const home = pages.find((candidate) => candidate.nav && mayOpen(candidate));
    if (page.id === 'library' && home && home !== page) {
      history.replaceState({}, '', home.path);
      return show({ firstLoad });
    }
  }
  const module = await page.load();
  if (number !== showing) return;
  current?.view?.destroy?.();
  // Each page draws into an element of its own: one still loading when the person moved on draws into an
  // element no longer on screen, never over the page that replaced it.
  const root = h('div', { class: 'page', dataset: { page: page.id } });
  main.replaceChildren(root);
  main.classList.remove('wide');
  setTitle(page.title);
  drawNav(page);
  const context = {
    main: root,
    params,
    query: new URLSearchParams(location.search),
    navigate,
    announce,
    setTitle,
  };
  current = { page, view: null };
  try {
    current.view = (await module.render(context)) || null;
  } catch (error) {
    root.append(h('p', { class: 'form-error', role: 'alert' }, describe(error)));
  }
  if (!firstLoad) {
    // After a navigation, reading starts at the new page, seen from its top.
    window.scrollTo(0, 0);
    main.focus({ preventScroll: true });
  }
}

/** Whether the signed-in person's roles open ``page`` (the API decides; this only keeps the menu honest). */
function mayOpen(page) {
  return !page.roles || page.roles.some((role) => session.has(role));
}

function setTitle(text) {
  document.title = `${text} · Signpost studio`;
}

function drawNav(activePage) {
  nav.replaceChildren(
    ...pages
      .filter((page) => page.nav && (page.public || session.person) && mayOpen(page))
      .map((page) =>
        h(
          'li',
          {},
          h('a', { href: page.path, 'aria-current': page === activePage ? 'page' : null }, page.nav),
        ),
      ),
  );
  drawWho();
}

function drawWho() {
  const person = session.person;
  if (!person) {
    who.replaceChildren();
    return;
  }
  who.replaceChildren(
    h(
      'span',
      { class: 'who-name' },
      session.displayName(),
      h('span', { class: 'who-detail' }, ` · ${person.organisation} · ${person.roles.join(', ')}`),
    ),
    h('button', { type: 'button', class: 'link-button', onClick: signOut }, 'Sign out'),
  );
}

async function signOut() {
  if (!(await mayLeave())) return;
  try {
    await session.signOut();
  } catch {
    // Signed out here whatever the server said: the cookie is gone or was already refused.
  }
  current?.view?.destroy?.();
  current = null;
  history.pushState({}, '', '/studio/sign-in');
  await show();
  announce('You have signed out.');
}

// ---- the session ends while a page is open --------------------------------------------------------------

let endedDialog = null;

function sessionEnded() {
  if (endedDialog?.open) return;
  endedDialog = h(
    'dialog',
    { class: 'session-ended', 'aria-labelledby': 'session-ended-title' },
    h('h2', { id: 'session-ended-title' }, 'Your session has ended, sign in again'),
    h(
      'p',
      {},
      'Nothing was changed. Sign in again to carry on: what you were working on is still on this page.',
    ),
  );
  const signedInAgain = () => {
    endedDialog.close();
    drawWho();
    announce('Signed in again. Repeat what you were doing.');
  };
  const tokenForm = signInForm({ onSignedIn: async () => signedInAgain() });
  endedDialog.append(tokenForm);
  configuredIssuer().then((issuer) => {
    if (!issuer || !endedDialog?.open) return;
    const problem = h('p', { class: 'form-error', role: 'alert' });
    const carryOn = async () => {
      problem.textContent = '';
      if (await session.load().catch(() => false)) signedInAgain();
      else problem.textContent = 'You are not signed in yet: sign in in the other tab first.';
    };
    tokenForm.remove();
    endedDialog.append(
      issuerSignInLink(issuer, '/studio/signed-in', { newTab: true }),
      problem,
      h('button', { type: 'button', onClick: carryOn }, 'Continue'),
      tokenSignInInstead(tokenForm),
    );
  });
  endedDialog.addEventListener('cancel', (event) => event.preventDefault()); // Escape would leave it unsigned
  endedDialog.addEventListener('close', () => endedDialog.remove());
  document.body.append(endedDialog);
  who.replaceChildren();
  endedDialog.showModal();
}

session.subscribe((what) => {
  if (what === 'ended') sessionEnded();
  if (what === 'signed-in') drawNav(current?.page);
});

// ---- links within the application move without reloading --------------------------------------------------

document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  const inApplication = url.pathname.startsWith('/studio') || url.pathname.startsWith('/console');
  if (url.origin !== location.origin || !inApplication) return;
  if (url.pathname === location.pathname && url.hash) return; // in-page links (the skip link)
  event.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => show());

show({ firstLoad: true });
