// One task of the worklist: the referral it belongs to, in short, and its form (form-js's viewer, with the
// form stored with the pathway version). The server checks the data against the same form; what it refuses
// is shown on the fields it names, and nothing is completed.

import { Form } from '@bpmn-io/form-js';

import { api, ApiError, describe } from '../../app/api.js';
import { formatWhen, h } from '../../app/dom.js';

export async function render({ main, params, navigate, announce, setTitle }) {
  const path = `/api/v1/tasks/${encodeURIComponent(params.id)}`;
  const status = h('p', { role: 'status' }, 'Loading the task…');
  main.append(status);
  let task;
  let referral = null;
  try {
    task = await api(path);
    if (task.referral_id) referral = await api(`/api/v1/referrals/${encodeURIComponent(task.referral_id)}`);
  } catch (error) {
    status.className = 'form-error';
    status.setAttribute('role', 'alert');
    // The API answers 404 alike for a task that does not exist and for another organisation's.
    const reason =
      error.status === 404 ? 'There is no such task, or it is not one you may see.' : describe(error);
    status.textContent = `The task could not be shown. ${reason}`;
    return undefined;
  }
  status.textContent = '';
  const title = task.title || task.element_id;
  setTitle(title);
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const formContainer = h('div', { class: 'task-form' });
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, title)),
    referral ? summary(referral) : null,
    h(
      'section',
      { 'aria-labelledby': 'task-form-title' },
      h('h2', { id: 'task-form-title' }, 'Complete the task'),
      problem,
      formContainer,
    ),
  );
  if (task.status !== 'ready' && task.status !== 'claimed') {
    formContainer.append(h('p', {}, `This task is ${task.status}: there is nothing left to do.`));
    return undefined;
  }

  const complete = async (data) => {
    problem.textContent = '';
    try {
      await api(`${path}/complete`, { method: 'POST', json: { data } });
      announce(`“${title}” completed.`);
      await navigate('/console/tasks');
      return {};
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        problem.textContent = error.message;
        return Object.fromEntries((error.problem.errors || []).map((e) => [e.field, e.message]));
      }
      problem.textContent = describe(error);
      return {};
    }
  };

  if (!task.form) {
    formContainer.append(
      h('p', {}, 'This task has no form: completing it records that it was done.'),
      h('button', { type: 'button', class: 'primary', onClick: () => complete({}) }, 'Complete'),
    );
    return undefined;
  }
  const form = new Form({ container: formContainer });
  await form.importSchema(task.form.schema, referral?.data || {});
  const fieldIds = new Map();
  for (const component of task.form.schema.components || []) {
    if (component.key) fieldIds.set(component.key, component.id);
  }
  form.on('submit', async ({ data, errors }) => {
    if (Object.keys(errors).length) return; // form-js shows them on the fields already
    const refused = await complete(data);
    if (Object.keys(refused).length) {
      // What the server refused, on the fields it names (form-js keys its errors by component id).
      const shown = {};
      for (const [key, message] of Object.entries(refused)) shown[fieldIds.get(key) || key] = [message];
      form._setState({ errors: shown });
    }
  });
  // A form may hold its own submit button; this one is always there.
  formContainer.after(
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onClick: () => form.submit() }, 'Complete'),
    ),
  );
  return { destroy: () => form.destroy() };
}

function summary(referral) {
  return h(
    'dl',
    { class: 'referral-facts' },
    h('dt', {}, 'Referral'),
    h(
      'dd',
      {},
      h('a', { href: `/console/referrals/${encodeURIComponent(referral.id)}` }, referral.reference),
    ),
    h('dt', {}, 'Where it is'),
    h('dd', {}, referral.status_text),
    h('dt', {}, 'Pathway'),
    h('dd', {}, referral.pathway.key.replaceAll('_', ' ')),
    h('dt', {}, 'Sent'),
    h('dd', {}, formatWhen(referral.created_at)),
  );
}
