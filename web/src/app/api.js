// The one way the web application talks to Signpost: its public API, same origin, with the session cookie
// (HttpOnly: this script never sees the token) and, on every change, the session's CSRF token, which is
// held in memory only (never in localStorage, never in a URL).

import { session } from './session.js';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A refusal or failure answered by the API: ``status`` and its problem+json body (``problem``). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the server answered ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** The deployment problems a 422 lists (file, element, line, message), or none. */
  get problems() {
    return Array.isArray(this.problem.problems) ? this.problem.problems : [];
  }
}

/** The session has ended (expired, signed out elsewhere, client revoked): the request changed nothing. */
export class SessionEnded extends ApiError {}

/** The server could not be reached at all. */
export class Unreachable extends Error {}

/**
 * api('/api/v1/definitions') → parsed JSON (or null for 204).
 * Options: method, json (a body sent as JSON), form (a FormData), signal (an AbortSignal), ifMatch (an
 * ETag: the change is refused with 412 if the resource changed since), withHeaders (answer
 * { body, headers } instead of the body alone: for a Link header's next page).
 * Throws SessionEnded for a 401 (and tells the application, which asks the person to sign in again),
 * ApiError for any other refusal, Unreachable when the network fails.
 */
export async function api(path, { method = 'GET', json, form, signal, ifMatch, withHeaders = false } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (UNSAFE.has(method) && session.csrfToken) headers['X-CSRF-Token'] = session.csrfToken;
  if (ifMatch) headers['If-Match'] = ifMatch;
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal, credentials: 'same-origin' });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new Unreachable('Signpost could not be reached: check the connection and try again.');
  }
  const answer = await read(response);
  if (response.status === 401) {
    const ended = new SessionEnded(401, answer);
    if (session.person) session.ended(ended);
    throw ended;
  }
  if (!response.ok) throw new ApiError(response.status, answer);
  return withHeaders ? { body: answer, headers: response.headers } : answer;
}

async function read(response) {
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  return { detail: await response.text() };
}

/** What to tell a person about ``error``, in one sentence. */
export function describe(error) {
  if (error instanceof SessionEnded) return 'Your session has ended: sign in again. Nothing was changed.';
  if (error instanceof ApiError) {
    if (error.status === 403) return `Not allowed: ${error.message}`;
    if (error.status === 429) return 'Too many requests: wait a moment and try again.';
    return error.message;
  }
  return error?.message || String(error);
}
