// A blueprint version's local variants, under the version in the library: each variant's name, where it
// applies (its points of access or organisation), whether it is approved (each is approved on its own) and
// how many referrals started on it. A version that is not a blueprint shows nothing.

import { h } from '../../app/dom.js';

export function variantList(version) {
  const variants = version.variants || [];
  if (variants.length === 0) return null;
  return h(
    'div',
    { class: 'variants' },
    h('span', { class: 'variants-title' }, `Blueprint: ${variants.length} local variants`),
    h(
      'ul',
      {},
      variants.map((variant) =>
        h(
          'li',
          { dataset: { variant: variant.name } },
          h('span', { class: 'variant-name' }, variant.name),
          ' ',
          h(
            'span',
            { class: `badge status-${variant.approval}` },
            variant.approval === 'approved' ? 'Approved' : 'Draft',
          ),
          h('br'),
          h('span', { class: 'when' }, appliesTo(variant)),
          ` · ${variant.referrals_total} referral${variant.referrals_total === 1 ? '' : 's'}`,
        ),
      ),
    ),
  );
}

function appliesTo(variant) {
  const where = [...variant.points_of_access];
  if (variant.organisation) where.push(`${variant.organisation} (organisation)`);
  return where.join(', ');
}
