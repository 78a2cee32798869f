// The pathway library: every deployed pathway with its versions, who deployed and approved each and when,
// which one new referrals start on, where each is live (staged go-live: go-live.js), and how many referrals
// run on each. Fields the API does not send (yet) are left blank rather than guessed.

import { api, describe } from '../../app/api.js';
import { fieldOf, formatWhen, h, who } from '../../app/dom.js';
import { goLiveControl, historyRow, liveAt, pointsOfAccessToGoLiveAt } from './go-live.js';
import { variantList } from './variants.js';

// Pathway, Version, Status, Deployed, Clinical approval, Live at, Referrals, Open.
const COLUMNS = 8;

export async function render(context) {
  const { main, announce } = context;
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading the pathways…');
  main.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Pathway library'),
      h('a', { href: '/studio/new', class: 'button primary' }, 'New pathway'),
    ),
    status,
  );
  let pathways;
  let points;
  try {
    [pathways, points] = await Promise.all([loadPathways(), pointsOfAccessToGoLiveAt()]);
  } catch (error) {
    status.className = 'form-error';
    status.setAttribute('role', 'alert');
    status.textContent = `The pathways could not be loaded. ${describe(error)}`;
    return;
  }
  status.remove();
  if (pathways.length === 0) {
    main.append(
      h(
        'p',
        {},
        'No pathway has been deployed yet. ',
        h('a', { href: '/studio/new' }, 'Draw the first one'),
        '.',
      ),
    );
    return;
  }
  const changed = async (message) => {
    main.replaceChildren();
    await render(context);
    announce(message);
  };
  const table = libraryTable(pathways, { points, announce, changed });
  main.append(filterField(table, pathways.length, announce), table);
}

async function loadPathways() {
  const summaries = await api('/api/v1/definitions');
  return Promise.all(
    summaries.map(async (summary) => {
      try {
        return { ...summary, ...(await api(`/api/v1/definitions/${encodeURIComponent(summary.key)}`)) };
      } catch (error) {
        return { ...summary, versions: null, error: describe(error) };
      }
    }),
  );
}

function filterField(table, total, announce) {
  const input = h('input', { id: 'library-filter', type: 'search', autocomplete: 'off' });
  input.addEventListener('input', () => {
    const wanted = input.value.trim().toLowerCase();
    let shown = 0;
    for (const group of table.tBodies) {
      const visible = !wanted || group.dataset.search.includes(wanted);
      group.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    announce(shown === total ? `All ${total} pathways shown.` : `${shown} of ${total} pathways shown.`);
  });
  return h(
    'div',
    { class: 'filter' },
    h('label', { for: 'library-filter' }, 'Filter by name or key'),
    input,
  );
}

function libraryTable(pathways, goLive) {
  return h(
    'table',
    { class: 'library' },
    h('caption', {}, 'Deployed pathways and their versions, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Pathway', 'Version', 'Status', 'Deployed', 'Clinical approval', 'Live at', 'Referrals'].map((name) =>
          h('th', { scope: 'col' }, name),
        ),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Open')),
      ),
    ),
    pathways.map((pathway) => pathwayRows(pathway, goLive)),
  );
}

function pathwayRows(pathway, goLive) {
  const name = pathway.name || pathway.key;
  const versions = [...(pathway.versions || [])].sort((a, b) => b.number - a.number);
  const heading = h(
    'th',
    { scope: 'rowgroup', rowspan: Math.max(versions.length, 1), class: 'pathway' },
    h('span', { class: 'pathway-name' }, name),
    h('code', { class: 'pathway-key' }, pathway.key),
  );
  const group = h('tbody', { dataset: { search: `${name} ${pathway.key}`.toLowerCase() } });
  if (!pathway.versions) {
    group.append(h('tr', {}, heading, h('td', { colspan: COLUMNS - 1, class: 'form-error' }, pathway.error)));
    return group;
  }
  versions.forEach((version, index) => {
    group.append(h('tr', {}, index === 0 ? heading : null, versionCells(pathway, version, name, goLive)));
  });
  const history = historyRow(pathway, COLUMNS);
  if (history) group.append(history);
  return group;
}

function versionCells(pathway, version, name, goLive) {
  const current =
    fieldOf(pathway, 'startable_version', 'current_version') === version.number ||
    fieldOf(version, 'starts_new_referrals', 'current') === true;
  const status = fieldOf(version, 'status', 'approval');
  const reason = fieldOf(version, 'approval_reason', 'reason');
  return [
    h(
      'td',
      { class: 'version' },
      `Version ${version.number}`,
      current ? h('span', { class: 'badge current' }, 'new referrals start here') : null,
      variantList(version),
    ),
    h('td', {}, status ? h('span', { class: `badge status-${status}` }, capitalise(status)) : '—'),
    h(
      'td',
      {},
      version.deployed_by_person || who(version.deployed_by),
      h('br'),
      h('span', { class: 'when' }, formatWhen(version.deployed_at)),
    ),
    h(
      'td',
      {},
      version.approved_by
        ? [
            version.approved_by_person || who(version.approved_by),
            h('br'),
            h('span', { class: 'when' }, formatWhen(version.approved_at)),
            reason ? h('p', { class: 'reason' }, `“${reason}”`) : null,
          ]
        : status === 'draft'
          ? 'Waiting for a clinical approver'
          : '—',
    ),
    h('td', { class: 'live-at' }, liveAt(pathway, version, goLive)),
    h('td', { class: 'number' }, referralCount(version)),
    h(
      'td',
      {},
      h(
        'a',
        { href: `/studio/pathways/${encodeURIComponent(pathway.key)}/versions/${version.number}` },
        'Open',
        h('span', { class: 'visually-hidden' }, ` version ${version.number} of ${name}`),
      ),
      status === 'draft'
        ? [
            h('br'),
            h(
              'a',
              { href: `${versionHref(pathway, version)}/approve`, class: 'review-link' },
              'Review and approve',
              h('span', { class: 'visually-hidden' }, ` ${name}, version ${version.number}`),
            ),
          ]
        : null,
      goLiveControl(pathway, version, goLive.points, goLive),
    ),
  ];
}

function versionHref(pathway, version) {
  return `/studio/pathways/${encodeURIComponent(pathway.key)}/versions/${version.number}`;
}

function referralCount(version) {
  const running = version.referrals_running;
  const total = version.referrals_total;
  if (running === undefined && total === undefined) return '—';
  if (total === undefined) return `${running} running`;
  return `${running ?? '?'} running, ${total} in all`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
