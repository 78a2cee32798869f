// Who is signed in, kept in memory for the life of the page. The session itself is an HttpOnly cookie
// the server set; this script holds only what the server chose to show it: the person's name,
// organisation and roles, and the CSRF token it must send with every change.

import { api, SessionEnded } from './api.js';

const listeners = new Set();

export const session = {
  person: null, // { name, organisation, roles, person, service, expires_at }
  csrfToken: null,

  has(role) {
    return Boolean(this.person?.roles?.includes(role));
  },

  /**
   * What to call the person: the person an API token was made for (a staff number, an email), or, for
   * someone signed in at the issuer (whose ``person`` is the issuer's URL and subject), their name there.
   */
  displayName() {
    const { person, name } = this.person || {};
    return person && !/^https?:\/\//.test(person) ? person : name;
  },

  /** Asks the server who is signed in (GET /api/v1/session); false when nobody is. */
  async load() {
    try {
      this.accept(await api('/api/v1/session'));
      return true;
    } catch (error) {
      if (error instanceof SessionEnded) {
        this.clear();
        return false;
      }
      throw error;
    }
  },

  /** Signs in with an API token: the server answers with the cookie and this page's CSRF token. */
  async signIn(token) {
    this.accept(await api('/api/v1/session', { method: 'POST', json: { token } }));
  },

  async signOut() {
    try {
      await api('/api/v1/session', { method: 'DELETE' });
    } finally {
      this.clear();
    }
  },

  accept(answer) {
    const { csrf_token: csrfToken, ...person } = answer;
    this.person = person;
    this.csrfToken = csrfToken || null;
    notify('signed-in');
  },

  clear() {
    this.person = null;
    this.csrfToken = null;
    notify('signed-out');
  },

  /** The server refused the session (expired, revoked, keys rotated): forget it and say so. */
  ended(error) {
    this.person = null;
    this.csrfToken = null;
    notify('ended', error);
  },

  /** ``listener(what, detail)`` for 'signed-in', 'signed-out' and 'ended'; returns the unsubscribe. */
  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

function notify(what, detail) {
  for (const listener of listeners) listener(what, detail);
}
