// The form a clinical approval is given with — of a version, or of one of a blueprint's variants: a reason
// (required: it is kept with what was approved and in the audit trail) and a button that stays disabled
// until there is one. The API decides who may approve; its refusal is shown as it is given, and the form
// stays for another try.

import { api, describe } from '../../app/api.js';
import { h } from '../../app/dom.js';

/**
 * ``id`` prefixes the form's element ids; ``path`` is the approval's route; ``approved(answer)`` replaces
 * the form with what was approved.
 */
export function approvalForm({ id, label, hint, button: buttonText, path, approved }) {
  const reason = h('textarea', {
    id: `${id}-reason`,
    rows: 3,
    maxlength: 2000,
    'aria-describedby': `${id}-hint`,
  });
  const button = h('button', { type: 'submit', class: 'primary', disabled: true }, buttonText);
  const message = h('p', { class: 'form-error', role: 'alert', id: `${id}-error` });
  reason.addEventListener('input', () => {
    button.disabled = reason.value.trim() === '';
  });
  const form = h(
    'form',
    { class: 'approval-form', novalidate: true },
    h('label', { for: `${id}-reason` }, label),
    h('p', { id: `${id}-hint`, class: 'hint' }, hint),
    reason,
    h('div', { class: 'actions' }, button),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (reason.value.trim() === '') return;
    button.disabled = true;
    message.textContent = '';
    try {
      approved(await api(path, { method: 'POST', json: { reason: reason.value } }));
    } catch (error) {
      const said = describe(error);
      message.textContent = `Not approved. ${said}${/[.!?]$/.test(said) ? '' : '.'} Nothing was changed.`;
      button.disabled = reason.value.trim() === '';
    }
  });
  return form;
}
