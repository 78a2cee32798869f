// One referral as its referrer sees it: where it is in plain words, who holds it, what happens next and by
// when (both sides' obligations), the hand-offs, and the timeline — the same facts as the notifications,
// and nothing clinical beyond what the referrer sent. It updates by itself and prints cleanly.

import { api, describe } from '../../app/api.js';
import { formatWhen, h } from '../../app/dom.js';
import { keepFresh } from '../../app/live.js';
import { session } from '../../app/session.js';
import { referralDiagram } from './diagram.js';
import { clockState, describeObligation, nextStep } from './next-step.js';

const STATE_WORDS = { breached: 'Overdue', 'at-risk': 'Due soon', 'on-track': 'On track', met: 'Done' };

export async function render({ main, params, setTitle, announce }) {
  const path = `/api/v1/referrals/${encodeURIComponent(params.id)}`;
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading the referral…');
  main.append(status);
  let shown = null;
  let sent = '[]';
  let lastReferral;
  let lastTimeline;
  let view;
  try {
    const [referral, timeline, deliveries] = await Promise.all([
      api(path),
      api(`${path}/timeline`),
      deliveriesOf(path),
    ]);
    shown = digest(referral);
    sent = JSON.stringify(deliveries);
    [lastReferral, lastTimeline] = [referral, timeline];
    view = draw(referral, timeline, deliveries);
  } catch (error) {
    status.className = 'form-error';
    status.setAttribute('role', 'alert');
    // The API answers 404 alike for a referral that does not exist and for another organisation's.
    const reason =
      error.status === 404 ? 'There is no such referral, or it is not one you may see.' : describe(error);
    status.textContent = `The referral could not be shown. ${reason}`;
    return undefined;
  }
  status.remove();
  main.append(view);
  setTitle(`Referral ${view.dataset.reference}`);

  // Operators also see the referral on its diagram, and act on an incident.
  const operating = session.has('operator');
  const operations = h('div', { class: 'operations' });
  let diagram = null;
  const drawOperations = async (referral) => {
    if (!operating) return;
    diagram?.destroy();
    try {
      const events = await api(`${path}/events`);
      diagram = await referralDiagram(referral, events);
      const incident = referral.status === 'incident' ? retryForm(path, referral.incident, announce) : '';
      operations.replaceChildren(incident, diagram.element);
      await diagram.draw();
    } catch (error) {
      operations.replaceChildren(h('p', {}, `The pathway view is not available: ${describe(error)}`));
    }
  };
  main.append(operations);
  await drawOperations(await api(path));
  // The referrer withdraws a referral, or the point of access working on it closes it, with a reason.
  const cancelling = h('div', { class: 'cancelling no-print' });
  const drawCancel = (referral) => {
    const open = !['completed', 'cancelled'].includes(referral.status) && !referral.completed_at;
    cancelling.replaceChildren(open ? cancelForm(path, announce) : '');
  };
  main.append(cancelling);
  drawCancel(await api(path));

  const live = keepFresh(async () => {
    const referral = await api(path); // revalidated with its ETag: unchanged costs a 304
    if (digest(referral) === shown) {
      // A notification still being sent changes without the referral: only then is it asked about again.
      if (!JSON.parse(sent).some((delivery) => delivery.status === 'pending')) return;
      const deliveries = await deliveriesOf(path);
      if (JSON.stringify(deliveries) === sent) return;
      sent = JSON.stringify(deliveries);
      const fresh = draw(lastReferral, lastTimeline, deliveries);
      view.replaceWith(fresh);
      view = fresh;
      return;
    }
    shown = digest(referral);
    const [timeline, deliveries] = await Promise.all([api(`${path}/timeline`), deliveriesOf(path)]);
    sent = JSON.stringify(deliveries);
    [lastReferral, lastTimeline] = [referral, timeline];
    const fresh = draw(referral, timeline, deliveries);
    view.replaceWith(fresh);
    view = fresh;
    await drawOperations(referral);
    drawCancel(referral);
    announce(`Referral updated: ${referral.status_text}`);
  });
  return {
    destroy: () => {
      live.stop();
      diagram?.destroy();
    },
  };
}

/** Cancel the referral, saying why: every open hand-off is cancelled with it. */
function cancelForm(path, announce) {
  const reason = h('textarea', { id: 'cancel-reason', name: 'reason', rows: 2, required: true });
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const details = h(
    'details',
    { class: 'cancel-referral' },
    h('summary', {}, 'Cancel this referral'),
    h(
      'form',
      {
        class: 'action-form',
        novalidate: true,
        onSubmit: async (event) => {
          event.preventDefault();
          problem.textContent = '';
          if (!reason.value.trim()) {
            problem.textContent = 'Say why the referral is cancelled.';
            reason.setAttribute('aria-invalid', 'true');
            reason.focus();
            return;
          }
          try {
            const after = await api(`${path}/cancel`, { method: 'POST', json: { reason: reason.value.trim() } });
            announce(`${after.status_text}.`);
          } catch (error) {
            problem.textContent = describe(error);
          }
        },
      },
      h('label', { for: 'cancel-reason' }, 'Why it is cancelled (the services it was sent to are told)'),
      reason,
      problem,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Cancel the referral')),
    ),
  );
  return details;
}

/** Run an incident's failed steps again, optionally with corrected data (a JSON object). */
function retryForm(path, incident, announce) {
  const data = h('textarea', { id: 'retry-data', name: 'data', rows: 3, spellcheck: 'false' });
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'action-form retry',
      onSubmit: async (event) => {
        event.preventDefault();
        problem.textContent = '';
        let corrected = {};
        if (data.value.trim()) {
          try {
            corrected = JSON.parse(data.value);
          } catch {
            corrected = null;
          }
          if (!corrected || typeof corrected !== 'object' || Array.isArray(corrected)) {
            problem.textContent =
              'The corrected data must be a JSON object, for example {"postcode": "LE1 5WW"}.';
            data.setAttribute('aria-invalid', 'true');
            return;
          }
        }
        try {
          const after = await api(`${path}/retry`, { method: 'POST', json: { data: corrected } });
          announce(`Retried: the referral is now ${after.status}.`);
        } catch (error) {
          problem.textContent = describe(error);
        }
      },
    },
    h('h2', {}, 'Incident'),
    h('p', {}, `Stopped at ${incident.task}: ${incident.error}`),
    h(
      'label',
      { for: 'retry-data' },
      'Corrected data (optional, a JSON object added to the referral’s data)',
    ),
    data,
    problem,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Retry')),
  );
  return form;
}

/** What the page shows of a referral, minus the clocks' running counts: redrawn only when it changes. */
function digest(referral) {
  const clocks = referral.clocks.map((clock) => [clock.id, clock.state, clock.stopped_at, clock.due_at]);
  const { updated_at: updatedAt, status_text: statusText, owner, handoffs: handoffList } = referral;
  return JSON.stringify([updatedAt, statusText, owner, handoffList, clocks]);
}

function draw(referral, timeline, deliveries) {
  const next = nextStep(referral);
  const openClocks = referral.clocks.filter((clock) => !clock.stopped_at);
  return h(
    'article',
    { class: 'referral', dataset: { reference: referral.reference } },
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, `Referral ${referral.reference}`),
      h('button', { type: 'button', class: 'no-print', onClick: () => window.print() }, 'Print'),
    ),
    h(
      'dl',
      { class: 'referral-facts' },
      h('dt', {}, 'Where it is'),
      h('dd', { class: 'status-text' }, referral.status_text),
      h('dt', {}, 'Who has it'),
      h('dd', {}, referral.owner),
      h('dt', {}, 'What happens next'),
      h('dd', {}, next ? h('span', { class: `rag ${next.state}` }, next.text) : 'Nothing is owed now.'),
      h('dt', {}, 'Pathway'),
      h('dd', {}, `${referral.pathway.key.replaceAll('_', ' ')} (version ${referral.pathway.version})`),
      // A blueprint pathway's local variant: the point of access's own services, targets and thresholds.
      referral.variant ? [h('dt', {}, 'Local variant'), h('dd', { class: 'variant' }, referral.variant)] : null,
      h('dt', {}, 'Sent'),
      h('dd', {}, formatWhen(referral.created_at)),
    ),
    openClocks.length ? obligations(openClocks) : null,
    referral.handoffs.length ? handoffs(referral.handoffs) : null,
    h(
      'section',
      { 'aria-labelledby': 'timeline-title' },
      h('h2', { id: 'timeline-title' }, 'Timeline'),
      h(
        'ol',
        { class: 'timeline' },
        timeline.map((entry) =>
          h('li', {}, h('time', { datetime: entry.at }, formatWhen(entry.at)), ' ', entry.what),
        ),
      ),
    ),
    deliveries.length ? notifications(deliveries) : null,
  );
}

/** The notifications about the referral to the reader's subscriptions: a referrer's own, or those the point
 * of access working on it may see. Other roles subscribe to nothing: for them there are none to ask for. */
async function deliveriesOf(path) {
  if (!session.has('referrer') && !session.has('operator')) return [];
  return api(`${path}/deliveries`);
}

const DELIVERY_WORDS = {
  pending: 'Being sent',
  delivered: 'Delivered',
  dead: 'Not delivered: gave up',
  disabled: 'Not sent: the subscription is off',
};

/** The notifications sent about the referral to the reader's subscriptions, and whether each arrived. */
function notifications(deliveries) {
  return h(
    'section',
    { 'aria-labelledby': 'notifications-title' },
    h('h2', { id: 'notifications-title' }, 'Notifications sent'),
    h(
      'ul',
      { class: 'notifications' },
      deliveries.map((delivery) => {
        const attempts = delivery.attempts === 1 ? '1 attempt' : `${delivery.attempts} attempts`;
        const about = [attempts, failure(delivery), deliveryTime(delivery)].filter(Boolean).join('; ');
        return h(
          'li',
          { class: `delivery ${delivery.status}` },
          `${delivery.event_type.replace(/^referral\./, '').replaceAll('_', ' ').replace('.', ' ')}: `,
          DELIVERY_WORDS[delivery.status] || delivery.status,
          ` (${about})`,
        );
      }),
    ),
  );
}

function failure(delivery) {
  if (delivery.status === 'delivered' || !(delivery.last_error || delivery.last_status_code)) return '';
  return `last answer: ${delivery.last_error || `HTTP ${delivery.last_status_code}`}`;
}

function deliveryTime(delivery) {
  if (delivery.delivered_at) return formatWhen(delivery.delivered_at);
  const retrying = delivery.status === 'pending' && delivery.next_attempt_at;
  return retrying ? `next try ${formatWhen(delivery.next_attempt_at)}` : '';
}

function obligations(clocks) {
  return h(
    'section',
    { 'aria-labelledby': 'obligations-title' },
    h('h2', { id: 'obligations-title' }, 'Who owes what, by when'),
    h(
      'ul',
      { class: 'obligations' },
      clocks.map((clock) => {
        const state = clock.state === 'paused' ? 'paused' : clockState(clock);
        const when =
          clock.state === 'paused' ? 'paused while information is awaited' : `by ${formatWhen(clock.due_at)}`;
        return h(
          'li',
          {},
          h('span', { class: `rag ${state}` }, STATE_WORDS[state] || 'Paused'),
          ` ${clock.owed_by}: ${describeObligation(clock.obligation)} ${when}`,
        );
      }),
    ),
  );
}

function handoffs(list) {
  return h(
    'section',
    { 'aria-labelledby': 'handoffs-title' },
    h('h2', { id: 'handoffs-title' }, 'Services involved'),
    h(
      'ul',
      { class: 'handoffs' },
      list.map((handoff) =>
        h(
          'li',
          {},
          `${handoff.to_service_name || handoff.to_service}: ${handoff.status.replaceAll('_', ' ')}`,
        ),
      ),
    ),
  );
}
