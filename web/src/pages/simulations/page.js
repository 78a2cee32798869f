// Simulations: a duty manager or a designer asks what a pathway would do to OLA compliance next week — with
// demand and staffing fitted from the last weeks, or with rates they give — as it is and with a what-if (more
// demand, a changed target, one more person at a team). The run goes on in the server
// (POST /api/v1/simulations); this page follows its progress, can cancel it, and shows % met per service
// arm beside arm, with a link to the full report.

import { api, describe } from '../../app/api.js';
import { formatWhen, h } from '../../app/dom.js';
import { keepFresh } from '../../app/live.js';

const FOLLOW_MS = 1000;
const STATUS_WORDS = {
  queued: 'Waiting for a simulation worker',
  running: 'Running',
  done: 'Done',
  cancelled: 'Cancelled',
  failed: 'Failed',
};
const ACTIVE = ['queued', 'running'];

export async function render({ main, announce }) {
  const pathway = h('select', { id: 'sim-pathway', name: 'pathway', required: true });
  const start = h('input', { id: 'sim-start', name: 'start', type: 'date', required: true, value: nextMonday() });
  const days = h('input', { id: 'sim-days', name: 'days', type: 'number', min: 1, max: 31, value: 7 });
  const runs = h('input', { id: 'sim-runs', name: 'runs', type: 'number', min: 1, max: 10, value: 3 });
  const fitted = h('input', { id: 'sim-fitted', name: 'source', type: 'radio', value: 'fitted', checked: true });
  const given = h('input', { id: 'sim-given', name: 'source', type: 'radio', value: 'given' });
  const peak = h('input', { id: 'sim-peak', type: 'number', min: 0, step: 'any', value: 5 });
  const quiet = h('input', { id: 'sim-quiet', type: 'number', min: 0, step: 'any', value: 1 });
  const scale = h('input', { id: 'sim-scale', type: 'number', min: 0.1, step: 0.1, value: 1 });
  const target = h('input', { id: 'sim-target', type: 'text', placeholder: 'accept-or-reject=PT2H' });
  const capacity = h('input', { id: 'sim-capacity', type: 'text', placeholder: 'community-nursing-city=+1' });
  const message = h('p', { class: 'form-error', role: 'alert' });
  const progress = h('section', { 'aria-labelledby': 'sim-progress-title', hidden: true });
  const history = h('section', { 'aria-labelledby': 'sim-history-title' });
  let following = null;

  const field = (input, label, hint) => {
    if (hint) input.setAttribute('aria-describedby', `${input.id}-hint`);
    return [
      h('label', { for: input.id }, label),
      hint ? h('p', { class: 'hint', id: `${input.id}-hint` }, hint) : null,
      input,
    ];
  };

  const form = h(
    'form',
    { class: 'action-form simulation-form', onSubmit: (event) => submit(event) },
    field(pathway, 'Pathway'),
    field(start, 'First day simulated'),
    field(days, 'Days'),
    field(runs, 'Runs (repeats with other seeds, for a confidence interval)'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Demand and staffing'),
      h('p', { class: 'inline-field' }, fitted, h('label', { for: 'sim-fitted' }, 'As in the last four weeks')),
      h('p', { class: 'inline-field' }, given, h('label', { for: 'sim-given' }, 'These referral rates:')),
      field(peak, 'Referrals an hour, weekdays 08:00 to 18:00'),
      field(quiet, 'Referrals an hour at other times'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'What if'),
      field(scale, 'Demand multiplied by'),
      field(target, 'A changed target', 'An obligation and its new target, such as accept-or-reject=PT2H'),
      field(capacity, 'A team with more people', 'A service and its people at once, such as service=3 or =+1'),
    ),
    message,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Simulate')),
  );

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Simulations')),
    h(
      'p',
      {},
      'Predict how referrals will meet their OLAs before a change goes live: the real pathway, service ' +
        'directory and OLA terms, in virtual time. Nothing is changed.',
    ),
    form,
    progress,
    history,
  );

  try {
    const definitions = await api('/api/v1/definitions');
    pathway.replaceChildren(...definitions.map((d) => h('option', { value: d.key }, d.name || d.key)));
  } catch (error) {
    message.textContent = `The pathways could not be loaded. ${describe(error)}`;
  }

  const submit = async (event) => {
    event.preventDefault();
    message.textContent = '';
    const startAt = new Date(`${start.value}T00:00:00Z`);
    const body = {
      pathway: pathway.value,
      start: startAt.toISOString(),
      days: Number(days.value),
      runs: Number(runs.value),
      what_if: {
        demand_scale: Number(scale.value) || 1,
        target: target.value.trim() ? [target.value.trim()] : [],
        capacity: capacity.value.trim() ? [capacity.value.trim()] : [],
      },
    };
    if (given.checked) {
      body.demand = {
        arrivals: [
          {
            pathway: pathway.value,
            per_hour: { 'every day': Number(quiet.value), 'Mon-Fri 08:00-18:00': Number(peak.value) },
          },
        ],
      };
    } else {
      body.fit_from = new Date(startAt.getTime() - 28 * 86400 * 1000).toISOString();
      body.fit_to = startAt.toISOString();
    }
    try {
      const started = await api('/api/v1/simulations', { method: 'POST', json: body });
      announce('The simulation has started.');
      follow(started.id);
    } catch (error) {
      message.textContent = `The simulation could not start. ${describe(error)}`;
    }
  };

  const follow = (id) => {
    following?.stop();
    progress.hidden = false;
    const draw = async () => {
      const simulation = await api(`/api/v1/simulations/${encodeURIComponent(id)}`);
      progress.replaceChildren(...progressView(simulation, () => cancel(id)));
      if (!ACTIVE.includes(simulation.status)) {
        following?.stop();
        announce(`The simulation is ${STATUS_WORDS[simulation.status].toLowerCase()}.`);
        loadHistory();
      }
    };
    draw();
    following = keepFresh(draw, FOLLOW_MS);
  };

  const cancel = async (id) => {
    try {
      await api(`/api/v1/simulations/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      announce('Cancelling the simulation.');
    } catch (error) {
      message.textContent = `The simulation could not be cancelled. ${describe(error)}`;
    }
  };

  const loadHistory = async () => {
    try {
      const earlier = await api('/api/v1/simulations');
      history.replaceChildren(
        h('h2', { id: 'sim-history-title' }, 'Earlier simulations'),
        earlier.length
          ? h(
              'ul',
              {},
              earlier.map((s) =>
                h(
                  'li',
                  {},
                  h('button', { type: 'button', onClick: () => follow(s.id) }, s.title),
                  ` — ${STATUS_WORDS[s.status]}, ${formatWhen(s.created_at)}`,
                ),
              ),
            )
          : h('p', {}, 'None yet.'),
      );
    } catch {
      history.replaceChildren();
    }
  };
  loadHistory();
  return { destroy: () => following?.stop() };
}

function progressView(simulation, onCancel) {
  const parts = [h('h2', { id: 'sim-progress-title' }, simulation.title)];
  const now = simulation.progress;
  if (ACTIVE.includes(simulation.status)) {
    const fraction = now ? now.fraction_done : 0;
    let said = simulation.status === 'queued' ? `${STATUS_WORDS.queued}…` : 'Starting…';
    if (now) {
      said =
        `${now.arm}, run ${now.run} of ${now.runs}: day ${now.simulated_days.toFixed(1)} of ${now.days}, ` +
        `${now.referrals} referrals, ${now.referrals_per_second} a second` +
        (now.seconds_left != null ? `, about ${now.seconds_left} s left` : '');
    }
    parts.push(
      h('progress', { max: 1, value: fraction, 'aria-labelledby': 'sim-progress-title' }),
      h('p', { role: 'status' }, simulation.cancel_requested ? 'Cancelling…' : said),
    );
    if (!simulation.cancel_requested) {
      parts.push(h('button', { type: 'button', onClick: onCancel }, 'Cancel the simulation'));
    }
  } else if (simulation.status === 'done') {
    parts.push(h('p', { role: 'status' }, 'Done.'), resultTable(simulation.figures));
    parts.push(
      h(
        'p',
        {},
        h(
          'a',
          { href: `/api/v1/simulations/${encodeURIComponent(simulation.id)}/report`, target: '_blank' },
          'Open the full report (queues, waits on the diagram, every obligation)',
        ),
      ),
    );
  } else {
    parts.push(
      h('p', { role: 'status' }, `${STATUS_WORDS[simulation.status]}.${simulation.error ? ` ${simulation.error}` : ''}`),
    );
  }
  return parts;
}

function resultTable(figures) {
  const arms = figures.arms;
  const services = [...new Set(arms.flatMap((arm) => arm.compliance.service.map((row) => row.group[0])))].sort();
  const cell = (arm, service) => {
    const row = arm.compliance.service.find((r) => r.group[0] === service);
    if (!row) return '—';
    const interval = row.percent_met_low != null ? ` (${row.percent_met_low}–${row.percent_met_high})` : '';
    return `${row.percent_met}% met${interval}; ${row.breached} breached a run`;
  };
  return h(
    'table',
    { class: 'library compliance simulation-result' },
    h('caption', {}, 'Predicted obligations met per service (95% interval across runs)'),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Service'), arms.map((arm) => h('th', { scope: 'col' }, arm.label))),
    ),
    h(
      'tbody',
      {},
      services.length
        ? services.map((service) =>
            h('tr', {}, h('th', { scope: 'row' }, service), arms.map((arm) => h('td', {}, cell(arm, service)))),
          )
        : h('tr', {}, h('td', { colspan: arms.length + 1 }, 'No obligation fell due in the period.')),
    ),
  );
}

function nextMonday() {
  const today = new Date();
  const monday = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
  monday.setUTCDate(monday.getUTCDate() + ((8 - monday.getUTCDay()) % 7 || 7));
  return monday.toISOString().slice(0, 10);
}
