// The operator's worklist: the open tasks of their point of access, soonest due first, filtered by pathway,
// priority, age and risk; each claimed, released or opened from here. Pages on with the API's Link header
// (keyset pagination: the hundredth page costs what the first does) and stays current without reloading.

import { api, describe } from '../../app/api.js';
import { formatWhen, h } from '../../app/dom.js';
import { keepFresh } from '../../app/live.js';

const PAGE_SIZE = 50;
const AGES = { '': 'Any age', 1: 'Older than an hour', 4: 'Older than 4 hours', 24: 'Older than a day' };

export async function render({ main, query, navigate, announce }) {
  const filters = {
    pathway: query.get('pathway') || '',
    priority: query.get('priority') || '',
    age: AGES[query.get('age')] ? query.get('age') : '',
    atRisk: query.get('at_risk') === 'true',
  };
  const refilter = (changes) => {
    const next = { ...filters, ...changes };
    const params = new URLSearchParams();
    if (next.pathway) params.set('pathway', next.pathway);
    if (next.priority) params.set('priority', next.priority);
    if (next.age) params.set('age', next.age);
    if (next.atRisk) params.set('at_risk', 'true');
    navigate(`/console/tasks${params.size ? `?${params}` : ''}`);
  };
  const field = (id, label, control) =>
    h('p', { class: 'inline-field' }, h('label', { for: id }, label), control);
  const pathway = h('input', { id: 'filter-pathway', type: 'text', value: filters.pathway, size: 28 });
  pathway.addEventListener('change', () => refilter({ pathway: pathway.value.trim() }));
  const priority = h('input', { id: 'filter-priority', type: 'text', value: filters.priority, size: 12 });
  priority.addEventListener('change', () => refilter({ priority: priority.value.trim() }));
  const age = h(
    'select',
    { id: 'filter-age', onChange: () => refilter({ age: age.value }) },
    Object.entries(AGES).map(([value, label]) =>
      h('option', { value, selected: value === filters.age }, label),
    ),
  );
  const atRisk = h('input', { id: 'filter-at-risk', type: 'checkbox', checked: filters.atRisk });
  atRisk.addEventListener('change', () => refilter({ atRisk: atRisk.checked }));

  const status = h('p', { role: 'status' }, 'Loading the tasks…');
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Show more tasks');
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Worklist')),
    h(
      'form',
      {
        class: 'filters',
        role: 'search',
        'aria-label': 'Filter the tasks',
        onSubmit: (event) => event.preventDefault(),
      },
      field('filter-pathway', 'Pathway', pathway),
      field('filter-priority', 'Priority', priority),
      field('filter-age', 'Age', age),
      h(
        'p',
        { class: 'inline-field' },
        atRisk,
        h('label', { for: 'filter-at-risk' }, 'Only those due soon or overdue'),
      ),
    ),
    status,
    h(
      'table',
      { class: 'library worklist' },
      h('caption', {}, 'Soonest due first. The list updates by itself.'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Task', 'Referral', 'Pathway', 'Priority', 'Due', 'Waiting since', 'Who has it', ''].map((title) =>
            h('th', { scope: 'col' }, title),
          ),
        ),
      ),
      body,
    ),
    more,
  );

  const params = new URLSearchParams({ status: 'open', limit: PAGE_SIZE });
  if (filters.pathway) params.set('pathway', filters.pathway);
  if (filters.priority) params.set('priority', filters.priority);
  if (filters.age) {
    params.set('created_before', new Date(Date.now() - filters.age * 3600 * 1000).toISOString());
  }
  if (filters.atRisk) params.set('at_risk', 'true');
  const first = `/api/v1/tasks?${params}`;
  let nextPage = null;

  const load = async (path) => {
    const { body: tasks, headers } = await api(path, { withHeaders: true });
    const link = headers.get('Link');
    return { tasks, next: link ? link.match(/<([^>]+)>;\s*rel="next"/)?.[1] || null : null };
  };
  const drawFirst = async () => {
    const page = await load(first);
    body.replaceChildren(...page.tasks.map((task) => row(task, { announce, reload: drawFirst })));
    nextPage = page.next;
    more.hidden = !nextPage;
    status.textContent = page.tasks.length ? '' : 'No open tasks match.';
  };
  more.addEventListener('click', async () => {
    const page = await load(nextPage);
    body.append(...page.tasks.map((task) => row(task, { announce, reload: drawFirst })));
    nextPage = page.next;
    more.hidden = !nextPage;
  });
  try {
    await drawFirst();
  } catch (error) {
    status.textContent = `The tasks could not be loaded. ${describe(error)}`;
  }
  const live = keepFresh(() => (nextPage === null ? drawFirst() : Promise.resolve()));
  return { destroy: () => live.stop() };
}

function row(task, { announce, reload }) {
  const mine = task.claimed_by_you;
  const act = async (action) => {
    try {
      await api(`/api/v1/tasks/${encodeURIComponent(task.id)}/${action}`, { method: 'POST' });
      announce(action === 'claim' ? `You have the task “${task.title}”.` : `Released “${task.title}”.`);
      await reload();
    } catch (error) {
      announce(describe(error));
    }
  };
  const overdue = task.due_at && Date.parse(task.due_at) <= Date.now();
  const dueState = overdue ? 'breached' : task.at_risk ? 'at-risk' : 'on-track';
  const referral = task.referral_id
    ? h('a', { href: `/console/referrals/${encodeURIComponent(task.referral_id)}` }, task.reference)
    : '—';
  return h(
    'tr',
    {},
    h(
      'th',
      { scope: 'row' },
      h('a', { href: `/console/tasks/${encodeURIComponent(task.id)}` }, task.title || task.element_id),
    ),
    h('td', {}, referral),
    h('td', {}, (task.pathway || '').replaceAll('_', ' ')),
    h('td', {}, task.priority || '—'),
    h('td', {}, task.due_at ? h('span', { class: `rag ${dueState}` }, formatWhen(task.due_at)) : '—'),
    h('td', {}, formatWhen(task.created_at)),
    h('td', {}, task.status === 'claimed' ? (mine ? 'You' : task.claimed_by) : 'Nobody yet'),
    h(
      'td',
      {},
      task.status === 'claimed'
        ? mine
          ? h('button', { type: 'button', onClick: () => act('release') }, 'Release')
          : ''
        : h('button', { type: 'button', onClick: () => act('claim') }, 'Claim'),
    ),
  );
}
