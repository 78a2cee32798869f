// A blueprint version's local variants on the review page. Each variant is clinically approved on its own
// (where approval is required, a referral at its points of access starts on it only once it is approved),
// so each has its own reason, its own button and its own refusal; its local values are shown beside it
// because they are what the approver vouches for. The API decides who may approve, by the rules of a
// version's approval (not the person who deployed it); its refusal is shown as it is given, and nothing
// changes.

import { fieldOf, formatWhen, h, who } from '../../app/dom.js';
import { approvalForm as sharedApprovalForm } from './approval-form.js';

/** The "Local variants" section of ``version`` (null when it is not a blueprint). */
export function variantsSection(version, versionPath, announce) {
  const variants = version.variants || [];
  if (variants.length === 0) return null;
  const declared = version.parameters || [];
  return h(
    'section',
    { class: 'variant-approvals', 'aria-labelledby': 'variants-title' },
    h('h2', { id: 'variants-title' }, 'Local variants'),
    h(
      'p',
      { class: 'hint' },
      `This version is a blueprint with ${variants.length} local ${plural(variants.length, 'variant')}. ` +
        'Each is approved on its own, apart from the version.',
    ),
    h(
      'ul',
      { class: 'variant-reviews' },
      variants.map((variant) => variantReview(variant, declared, versionPath, announce)),
    ),
  );
}

function variantReview(variant, declared, versionPath, announce) {
  const state = h('div', { class: 'variant-approval' });
  if (variant.approval === 'approved') {
    state.append(approvedText(variant));
  } else {
    const pending = h(
      'p',
      { class: 'variant-pending' },
      h('span', { class: 'badge status-draft' }, 'Draft'),
      ` The ${variant.name} variant is not approved yet.`,
    );
    state.append(pending, approvalForm(variant, versionPath, announce, state));
  }
  return h(
    'li',
    { class: 'variant-review', dataset: { variant: variant.name } },
    h('h3', {}, variant.name),
    variant.description ? h('p', { class: 'variant-description' }, variant.description) : null,
    h('p', { class: 'when' }, appliesTo(variant)),
    valuesTable(variant, declared),
    state,
  );
}

function appliesTo(variant) {
  const where = [];
  if ((variant.points_of_access || []).length) where.push(`at ${variant.points_of_access.join(', ')}`);
  // The organisation's variant takes the referrals its other points of access handle (no variant names them).
  if (variant.organisation) where.push(`at any other point of access of ${variant.organisation}`);
  const started = variant.referrals_total;
  const count = started === undefined ? '' : ` ${started} ${plural(started, 'referral')} started on it.`;
  return `Runs for referrals ${where.join(', and ') || 'nowhere'}.${count}`;
}

/** What the diagram reads as local[…] under this variant: its own values, and the blueprint's defaults. */
function valuesTable(variant, declared) {
  const values = variant.values || variant.parameters;
  if (!values) return null;
  const own = variant.parameters || {};
  const names = declared.length ? declared.map((p) => p.name) : Object.keys(values);
  const rows = names.filter((name) => name in values);
  if (rows.length === 0) return null;
  return h(
    'table',
    { class: 'variant-values' },
    h('caption', {}, `Local values of the ${variant.name} variant`),
    h(
      'thead',
      {},
      h('tr', {}, ['Parameter', 'Value', 'Set by'].map((name) => h('th', { scope: 'col' }, name))),
    ),
    h(
      'tbody',
      {},
      rows.map((name) =>
        h(
          'tr',
          { class: name in own ? 'variant-own' : 'blueprint-default' },
          h('th', { scope: 'row' }, h('code', {}, name)),
          h('td', {}, shown(values[name])),
          h('td', {}, name in own ? 'this variant' : 'the blueprint (default)'),
        ),
      ),
    ),
  );
}

function plural(count, noun) {
  return count === 1 ? noun : `${noun}s`;
}

function shown(value) {
  if (value === undefined || value === null || value === '') return '—';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function approvalForm(variant, versionPath, announce, state) {
  const { name } = variant;
  return sharedApprovalForm({
    id: `variant-${name}`,
    label: `Reason for approving the ${name} variant`,
    hint: 'Say what you checked of its local values. It is kept with the variant and in the audit trail.',
    button: `Approve the ${name} variant`,
    path: `${versionPath}/variants/${encodeURIComponent(name)}/approve`,
    approved: (answer) => {
      state.replaceChildren(approvedText(answer));
      announce(`The ${answer.name} variant approved.`);
    },
  });
}

function approvedText(variant) {
  // A variant's approval names the approving client only: the API gives no approved_by_person for it.
  const approver = fieldOf(variant, 'approved_by_person') || who(variant.approved_by);
  return h(
    'p',
    { class: 'approved-status', role: 'status' },
    h('span', { class: 'badge status-approved' }, 'Approved'),
    ` The ${variant.name} variant approved by ${approver} on ${formatWhen(variant.approved_at)}: `,
    h('q', {}, variant.approval_reason || ''),
  );
}
