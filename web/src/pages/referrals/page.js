// The referrals a referrer's organisation sent (or an operator's point of access handles), newest first:
// each with its status in plain words and the next step owed, by whom and by when. Pages on with the API's
// Link header; the first page stays up to date without reloading.

import { api, describe } from '../../app/api.js';
import { formatWhen, h } from '../../app/dom.js';
import { keepFresh } from '../../app/live.js';
import { nextStep } from '../referral/next-step.js';

const PAGE_SIZE = 25;

export async function render({ main }) {
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading the referrals…');
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Show older referrals');
  const table = h(
    'table',
    { class: 'library referrals' },
    h('caption', {}, 'Newest first. The list updates by itself.'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Reference', 'Sent', 'Pathway', 'Where it is', 'What happens next'].map((title) =>
          h('th', { scope: 'col' }, title),
        ),
      ),
    ),
    body,
  );
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Referrals')), status, table, more);

  let nextPage = null;
  let firstPage = [];
  const load = async (path) => {
    const { body: referrals, headers } = await api(path, { withHeaders: true });
    const link = headers.get('Link');
    return { referrals, next: link ? link.match(/<([^>]+)>;\s*rel="next"/)?.[1] || null : null };
  };
  const drawMore = () => {
    more.hidden = !nextPage;
  };
  try {
    const first = await load(`/api/v1/referrals?limit=${PAGE_SIZE}`);
    firstPage = first.referrals;
    nextPage = first.next;
  } catch (error) {
    status.className = 'form-error';
    status.setAttribute('role', 'alert');
    status.textContent = `The referrals could not be loaded. ${describe(error)}`;
    return undefined;
  }
  status.textContent = firstPage.length ? '' : 'No referrals yet.';
  body.replaceChildren(...firstPage.map(row));
  drawMore();

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await load(nextPage);
      body.append(...page.referrals.map(row));
      nextPage = page.next;
      drawMore();
    } catch (error) {
      status.textContent = describe(error);
    } finally {
      more.disabled = false;
    }
  });

  // Only the first page is asked for again: new referrals and changes to recent ones show up there.
  const live = keepFresh(async () => {
    const { referrals } = await load(`/api/v1/referrals?limit=${PAGE_SIZE}`);
    const shown = new Map([...body.rows].map((tr) => [tr.dataset.id, tr]));
    for (const referral of referrals.slice().reverse()) {
      const fresh = row(referral);
      const old = shown.get(referral.id);
      if (!old) body.prepend(fresh);
      else if (old.dataset.digest !== fresh.dataset.digest) old.replaceWith(fresh);
    }
    if (referrals.length) status.textContent = '';
  });
  return { destroy: () => live.stop() };
}

function row(referral) {
  const next = nextStep(referral);
  return h(
    'tr',
    {
      dataset: {
        id: referral.id,
        digest: JSON.stringify([referral.status_text, referral.updated_at, next?.text]),
      },
    },
    h(
      'th',
      { scope: 'row' },
      h('a', { href: `/console/referrals/${encodeURIComponent(referral.id)}` }, referral.reference),
    ),
    h('td', {}, formatWhen(referral.created_at)),
    h('td', {}, referral.pathway.key.replaceAll('_', ' ')),
    h('td', {}, referral.status_text),
    h('td', {}, next ? next.text : '—'),
  );
}
