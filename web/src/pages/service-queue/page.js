// A service's queue, for staff who work hand-offs in Signpost rather than in a system of their own: the
// hand-offs routed to one of their organisation's services by status, with every action the API allows on
// each. Every action carries the hand-off's ETag (If-Match): a change made elsewhere meanwhile is refused by
// the server and shown here, never overwritten. The queue updates by itself; an open action form is kept.

import { api, ApiError, describe } from '../../app/api.js';
import { formatWhen, h } from '../../app/dom.js';
import { keepFresh } from '../../app/live.js';
import { session } from '../../app/session.js';

const VIEWS = {
  new: { label: 'New', statuses: ['requested', 'received'] },
  working: { label: 'Accepted and in progress', statuses: ['accepted', 'in-progress'] },
  waiting: { label: 'Waiting for information', statuses: ['on-hold'] },
  closed: { label: 'Closed', statuses: ['rejected', 'completed', 'cancelled', 'failed'] },
};

// What each action asks for: [field, label, kind] ('text', 'long' or 'service').
const ACTIONS = {
  acknowledge: { label: 'Acknowledge', fields: [] },
  accept: { label: 'Accept', fields: [['window', 'Visit window (optional)', 'text', false]] },
  reject: { label: 'Decline', fields: [['reason', 'Why it is declined', 'long', true]] },
  'request-information': {
    label: 'Ask for information',
    fields: [['question', 'What is needed', 'long', true]],
  },
  schedule: { label: 'Schedule', fields: [['window', 'When the visit is', 'text', true]] },
  start: { label: 'Start', fields: [] },
  complete: { label: 'Complete', fields: [['outcome', 'Outcome', 'long', true]] },
  transfer: {
    label: 'Transfer',
    fields: [
      ['to_service', 'Transfer to', 'service', true],
      ['reason', 'Why it is transferred', 'long', true],
    ],
  },
};

export async function render({ main, query, navigate, announce }) {
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading the services…');
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Service queue')), status);
  let services;
  try {
    services = await api('/api/v1/services');
  } catch (error) {
    status.className = 'form-error';
    status.textContent = `The services could not be loaded. ${describe(error)}`;
    return undefined;
  }
  const own = services.filter((service) => service.organisation === session.person.organisation);
  if (own.length === 0) {
    status.textContent = 'Your organisation runs no service in the directory.';
    return undefined;
  }
  status.remove();
  const serviceId = own.some((s) => s.id === query.get('service')) ? query.get('service') : own[0].id;
  const view = VIEWS[query.get('view')] ? query.get('view') : 'new';
  const go = (changes) => {
    const next = new URLSearchParams({ service: serviceId, view, ...changes });
    navigate(`/console/services?${next}`);
  };

  const picker = h(
    'select',
    { id: 'queue-service', onChange: (event) => go({ service: event.target.value }) },
    own.map((service) =>
      h('option', { value: service.id, selected: service.id === serviceId }, service.name),
    ),
  );
  const tabs = h(
    'nav',
    { class: 'queue-views', 'aria-label': 'Hand-offs by status' },
    h(
      'ul',
      {},
      Object.entries(VIEWS).map(([key, { label }]) =>
        h(
          'li',
          {},
          h(
            'a',
            {
              href: `/console/services?${new URLSearchParams({ service: serviceId, view: key })}`,
              'aria-current': key === view ? 'page' : null,
            },
            label,
          ),
        ),
      ),
    ),
  );
  const listStatus = h('p', { role: 'status' });
  const list = h('ul', { class: 'queue' });
  const label = h('label', { for: 'queue-service' }, 'Service');
  const pickerField = h('p', { class: 'inline-field' }, label, picker);
  main.append(pickerField, tabs);
  main.append(listStatus, list);

  const cards = new Map();
  const load = async () => {
    const statuses = VIEWS[view].statuses.map((s) => `status=${s}`).join('&');
    const handoffs = await api(`/api/v1/services/${encodeURIComponent(serviceId)}/handoffs?${statuses}`);
    listStatus.textContent = handoffs.length
      ? `${handoffs.length} hand-off${handoffs.length === 1 ? '' : 's'}.`
      : 'No hand-offs here.';
    const seen = new Set();
    for (const handoff of handoffs) {
      seen.add(handoff.id);
      const card = cards.get(handoff.id);
      if (!card) {
        const fresh = handoffCard(handoff, own, serviceId, { announce, reload: load });
        cards.set(handoff.id, fresh);
        list.append(fresh.element);
      } else if (!card.busy() && card.etag() !== handoff.etag) {
        card.update(handoff);
      }
    }
    for (const [id, card] of cards) {
      if (!seen.has(id) && !card.busy()) {
        card.element.remove();
        cards.delete(id);
      }
    }
  };
  try {
    await load();
  } catch (error) {
    listStatus.textContent = `The queue could not be loaded. ${describe(error)}`;
  }
  const live = keepFresh(load);
  return { destroy: () => live.stop() };
}

/** What the referral sent the service (the hand-off's payload), field by field. */
function details(payload) {
  const entries = Object.entries(payload || {});
  if (!entries.length) return null;
  return h(
    'details',
    { class: 'handoff-details' },
    h('summary', {}, 'What the referral says'),
    h(
      'dl',
      { class: 'referral-facts' },
      entries.map(([name, value]) => [
        h('dt', {}, name.replaceAll('_', ' ')),
        h('dd', {}, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)),
      ]),
    ),
  );
}

/** One hand-off with its actions: { element, etag(), busy(), update(handoff) }. */
function handoffCard(initial, services, serviceId, { announce, reload }) {
  let handoff = initial;
  let openForm = null;
  const element = h('li', { class: 'queue-item' });
  const message = h('p', { class: 'form-error', role: 'alert' });

  const draw = () => {
    element.replaceChildren(
      h('h2', {}, `Referral for ${handoff.referral_type.replaceAll('-', ' ')}`),
      h(
        'dl',
        { class: 'referral-facts' },
        h('dt', {}, 'Status'),
        h('dd', {}, handoff.status.replaceAll('-', ' ')),
        h('dt', {}, 'Why it was sent'),
        h('dd', {}, handoff.reason || '—'),
        h('dt', {}, 'Received'),
        h('dd', {}, formatWhen(handoff.created_at)),
        handoff.question ? [h('dt', {}, 'Asked'), h('dd', {}, handoff.question)] : null,
        handoff.window ? [h('dt', {}, 'Visit window'), h('dd', {}, handoff.window)] : null,
        handoff.outcome ? [h('dt', {}, 'Outcome'), h('dd', {}, handoff.outcome)] : null,
        handoff.status_reason ? [h('dt', {}, 'Reason'), h('dd', {}, handoff.status_reason)] : null,
      ),
      details(handoff.payload),
      message,
      openForm ||
        h(
          'div',
          { class: 'actions' },
          (handoff.actions || []).map((action) =>
            h('button', { type: 'button', onClick: () => open(action) }, ACTIONS[action]?.label || action),
          ),
        ),
    );
  };

  const open = (action) => {
    message.textContent = '';
    const spec = ACTIONS[action];
    if (!spec.fields.length) {
      send(action, {});
      return;
    }
    const inputs = spec.fields.map(([name, label, kind, required]) => {
      const id = `${handoff.id}-${name}`;
      let input;
      if (kind === 'service') {
        input = h(
          'select',
          { id, name, required },
          services
            .filter((service) => service.id !== serviceId)
            .map((service) => h('option', { value: service.id }, service.name)),
        );
      } else if (kind === 'long') {
        input = h('textarea', { id, name, required, rows: 3 });
      } else {
        input = h('input', { id, name, required, type: 'text' });
      }
      return [h('label', { for: id }, label), input];
    });
    openForm = h(
      'form',
      {
        class: 'action-form',
        onSubmit: (event) => {
          event.preventDefault();
          const body = {};
          for (const [name] of spec.fields) {
            const value = event.target.elements[name].value.trim();
            if (value) body[name] = value;
          }
          send(action, body);
        },
      },
      inputs,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, spec.label),
        h('button', { type: 'button', onClick: close }, 'Cancel'),
      ),
    );
    draw();
    openForm.querySelector('input, textarea, select')?.focus();
  };

  const close = () => {
    openForm = null;
    draw();
  };

  const send = async (action, body) => {
    try {
      const changed = await api(`/api/v1/handoffs/${encodeURIComponent(handoff.id)}/${action}`, {
        method: 'POST',
        json: body,
        ifMatch: handoff.etag,
      });
      handoff = changed;
      openForm = null;
      draw();
      announce(`${ACTIONS[action].label}: done. The hand-off is now ${changed.status.replaceAll('-', ' ')}.`);
      reload().catch(() => {});
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        // Changed elsewhere since it was shown: show it as it is now; the person decides again.
        handoff = await api(`/api/v1/handoffs/${encodeURIComponent(handoff.id)}`);
        openForm = null;
        draw();
        message.textContent =
          `Someone else changed this hand-off meanwhile; it is now ${handoff.status.replaceAll('-', ' ')}. ` +
          'Your action was not applied: check it and act again if it is still needed.';
      } else {
        message.textContent = describe(error);
      }
    }
  };

  draw();
  return {
    element,
    etag: () => handoff.etag,
    busy: () => openForm !== null,
    update: (fresh) => {
      handoff = fresh;
      draw();
    },
  };
}
