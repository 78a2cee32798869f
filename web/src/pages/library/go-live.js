// Staged go-live in the library: where each version is live and since when (a pilot names its point of
// access), where it will go live and from when, each pathway's go-live history with its rollbacks, and —
// for admins (at their organisation's points of access) and platform admins (anywhere) — a control to make
// an approved version go live and one to roll a go-live back. The API decides who may; its refusal is shown
// as it is given, and nothing changes.

import { api, describe } from '../../app/api.js';
import { formatWhen, h, who } from '../../app/dom.js';
import { session } from '../../app/session.js';

/** Whether the signed-in person may go live and roll back at all (the API decides where). */
export function mayGoLive() {
  return session.has('admin') || session.has('platform-admin');
}

/** The points of access the person may go live at: all for a platform admin, else its organisation's. */
export async function pointsOfAccessToGoLiveAt() {
  if (!mayGoLive()) return [];
  const services = await api('/api/v1/services');
  const everywhere = session.has('platform-admin');
  return services.filter(
    (service) =>
      service.kind === 'point-of-access' && (everywhere || service.organisation === session.person?.organisation),
  );
}

/** The "Live at" cell's content for ``version`` of ``pathway``. */
export function liveAt(pathway, version, context) {
  if (!pathway.staged_go_live) {
    return version.starts_new_referrals
      ? h('span', { class: 'live-place' }, 'Every point of access (latest approved version)')
      : '—';
  }
  const hasPilots = (pathway.versions || []).some((v) => (v.live_at || []).some((place) => place.pilot));
  const items = [
    ...(version.live_at || []).map((place) =>
      h(
        'li',
        { class: place.pilot ? 'live-place pilot' : 'live-place' },
        place.pilot ? h('span', { class: 'badge pilot' }, 'Pilot') : null,
        ' ',
        placeName(place, hasPilots),
        h('br'),
        h('span', { class: 'when' }, `since ${formatWhen(place.since)}`),
        rollbackControl(pathway, version, place, context),
      ),
    ),
    ...(version.scheduled_go_lives || []).map((place) =>
      h(
        'li',
        { class: 'live-place scheduled' },
        h('span', { class: 'badge scheduled' }, 'Scheduled'),
        ' ',
        placeName(place, false),
        h('br'),
        h('span', { class: 'when' }, `from ${formatWhen(place.from)}`),
        rollbackControl(pathway, version, place, context),
      ),
    ),
  ];
  return items.length ? h('ul', { class: 'live-places' }, items) : '—';
}

function placeName(place, others) {
  if (place.point_of_access) return place.point_of_access_name || place.point_of_access;
  return others ? 'Every other point of access' : 'Every point of access';
}

function slug(text) {
  return String(text).replace(/[^A-Za-z0-9_-]/g, '_');
}

/** A form in a disclosure: its fields, a reason, a problem line and a submit button. */
function actionForm({ summary, id, fields, reasonLabel, submit, send }) {
  const reason = h('textarea', { id: `${id}-reason`, name: 'reason', rows: 2, required: true });
  const problem = h('p', { class: 'form-error', role: 'alert', id: `${id}-error` });
  const button = h('button', { type: 'submit', class: 'primary', id: `${id}-submit` }, submit);
  const form = h(
    'form',
    {
      class: 'action-form go-live-form',
      novalidate: true,
      onSubmit: async (event) => {
        event.preventDefault();
        problem.textContent = '';
        reason.removeAttribute('aria-invalid');
        if (!reason.value.trim()) {
          problem.textContent = 'Say why.';
          reason.setAttribute('aria-invalid', 'true');
          reason.focus();
          return;
        }
        button.disabled = true;
        try {
          await send(reason.value.trim());
        } catch (error) {
          problem.textContent = `${describe(error)} Nothing was changed.`;
          button.disabled = false;
        }
      },
    },
    fields,
    h('label', { for: reason.id }, reasonLabel),
    reason,
    problem,
    h('div', { class: 'actions' }, button),
  );
  return h('details', { class: 'go-live-action' }, h('summary', { id: `${id}-summary` }, summary), form);
}

function rollbackControl(pathway, version, place, { announce, changed }) {
  const goLive = (pathway.go_lives || []).find((g) => g.id === place.go_live_id);
  if (!mayGoLive() || !goLive || goLive.kind === 'baseline') return null;
  const name = pathway.name || pathway.key;
  const where = placeName(place, false);
  const id = `rollback-${slug(pathway.key)}-${place.go_live_id}-${slug(place.point_of_access || 'all')}`;
  return actionForm({
    summary: ['Roll back', h('span', { class: 'visually-hidden' }, ` version ${version.number} at ${where}`)],
    id,
    fields: h(
      'p',
      { class: 'hint' },
      `Rolls back go-live ${goLive.id} of ${name} version ${version.number}: its points of access return to ` +
        'the version live there before it. Referrals already started keep their version.',
    ),
    reasonLabel: 'Why it is rolled back',
    submit: `Roll back go-live ${goLive.id}`,
    send: async (reason) => {
      await api(`/api/v1/definitions/${encodeURIComponent(pathway.key)}/go-lives/${goLive.id}/rollback`, {
        method: 'POST',
        json: { reason },
      });
      changed(`Go-live ${goLive.id} of ${name} rolled back.`);
    },
  });
}

/** The go-live control of an approved version, for the people who may go live. */
export function goLiveControl(pathway, version, points, { changed }) {
  if (!mayGoLive() || (version.status || version.approval) !== 'approved') return null;
  const name = pathway.name || pathway.key;
  const id = `go-live-${slug(pathway.key)}-${version.number}`;
  const everywhere = session.has('platform-admin')
    ? h('input', { type: 'checkbox', id: `${id}-everywhere`, name: 'everywhere' })
    : null;
  const boxes = points.map((point) =>
    h('input', { type: 'checkbox', id: `${id}-${slug(point.id)}`, name: 'point_of_access', value: point.id }),
  );
  const from = h('input', { type: 'datetime-local', id: `${id}-from`, name: 'from' });
  const fields = [
    h(
      'fieldset',
      { class: 'go-live-where' },
      h('legend', {}, 'Where'),
      everywhere
        ? h('div', { class: 'choice' }, everywhere, h('label', { for: everywhere.id }, 'Every point of access'))
        : null,
      boxes.map((box, index) =>
        h('div', { class: 'choice' }, box, h('label', { for: box.id }, points[index].name || points[index].id)),
      ),
    ),
    h('label', { for: from.id }, 'From (leave empty to go live now)'),
    from,
  ];
  return actionForm({
    summary: ['Go live', h('span', { class: 'visually-hidden' }, ` with ${name}, version ${version.number}`)],
    id,
    fields,
    reasonLabel: 'Why it goes live (kept in the audit trail)',
    submit: `Go live with version ${version.number}`,
    send: async (reason) => {
      const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
      const body = { reason };
      if (!everywhere?.checked) {
        if (chosen.length === 0) throw new Error('Choose where it goes live.');
        body.points_of_access = chosen;
      }
      if (from.value) body.from = new Date(from.value).toISOString();
      const made = await api(
        `/api/v1/definitions/${encodeURIComponent(pathway.key)}/versions/${version.number}/go-live`,
        { method: 'POST', json: body },
      );
      const where = made.pilot ? made.points.map((p) => p.point_of_access_name || p.point_of_access) : [];
      const at = where.length ? `at ${where.join(', ')}` : 'at every point of access';
      const when = made.state === 'scheduled' ? `from ${formatWhen(made.from)}` : 'now';
      changed(`${name} version ${version.number} goes live ${at} ${when}.`);
    },
  });
}

/** The row after a pathway's versions listing its go-lives, newest first; none before its first go-live. */
export function historyRow(pathway, columns) {
  const goLives = pathway.go_lives || [];
  if (goLives.length === 0) return null;
  const name = pathway.name || pathway.key;
  return h(
    'tr',
    { class: 'go-live-history' },
    h(
      'td',
      { colspan: columns },
      h(
        'details',
        {},
        h('summary', {}, `Go-live history of ${name} (${goLives.length})`),
        h('ol', { reversed: true }, goLives.map(historyItem)),
      ),
    ),
  );
}

function historyItem(goLive) {
  const places = goLive.points.map((point) =>
    h(
      'li',
      {},
      placeName(point, false),
      ': ',
      h('span', { class: `state state-${point.state}` }, point.state.replace('-', ' ')),
      point.rolled_back_at
        ? [
            ` on ${formatWhen(point.rolled_back_at)} by ${who(point.rolled_back_by)}`,
            point.rollback_reason ? h('span', { class: 'reason' }, ` “${point.rollback_reason}”`) : null,
          ]
        : null,
    ),
  );
  const what =
    goLive.kind === 'baseline'
      ? `Version ${goLive.version} was live before the first go-live`
      : `Version ${goLive.version} ${goLive.pilot ? 'piloted' : 'for every point of access'}`;
  return h(
    'li',
    { class: 'go-live-entry' },
    h('strong', {}, `${what}, from ${formatWhen(goLive.from)}`),
    ` — recorded by ${who(goLive.recorded_by)} (${goLive.organisation}) on ${formatWhen(goLive.recorded_at)}`,
    goLive.kind === 'baseline' ? null : h('p', { class: 'reason' }, `“${goLive.reason}”`),
    h('ul', {}, places),
  );
}
