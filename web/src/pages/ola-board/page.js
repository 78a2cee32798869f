// The duty manager's OLA board: the obligations at risk and breached now, soonest due first, kept up to
// date without reloading; and, over a chosen period, how the organisation's hand-offs met their obligations
// per organisation pair and per obligation — the figures of GET /api/v1/reports/ola, also as CSV.

import { api, describe } from '../../app/api.js';
import { duration, formatWhen, h } from '../../app/dom.js';
import { keepFresh } from '../../app/live.js';
import { clockState, describeObligation } from '../referral/next-step.js';

const STATE_WORDS = { breached: 'Overdue', 'at-risk': 'Due soon', 'on-track': 'On track' };
const PERIODS = { 7: 'The last 7 days', 30: 'The last 30 days', 90: 'The last 90 days' };

export async function render({ main, announce }) {
  const onlyAtRisk = h('input', { id: 'only-at-risk', type: 'checkbox', checked: true });
  const nowStatus = h('p', { class: 'loading', role: 'status' }, 'Loading the obligations…');
  const nowBody = h('tbody');
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'OLA board')),
    h(
      'section',
      { 'aria-labelledby': 'now-title' },
      h('h2', { id: 'now-title' }, 'Owed now'),
      h(
        'p',
        { class: 'inline-field' },
        onlyAtRisk,
        h('label', { for: 'only-at-risk' }, 'Only those due soon or overdue'),
      ),
      nowStatus,
      h(
        'table',
        { class: 'library obligations-now' },
        h('caption', {}, 'Soonest due first. The list updates by itself.'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['State', 'Referral', 'Who owes it', 'What', 'Due', 'Business time left'].map((title) =>
              h('th', { scope: 'col' }, title),
            ),
          ),
        ),
        nowBody,
      ),
    ),
  );

  let clocks = [];
  const drawNow = () => {
    const shown = clocks
      .map((clock) => ({ clock, state: clockState(clock) }))
      .filter(({ state }) => !onlyAtRisk.checked || state !== 'on-track');
    nowBody.replaceChildren(...shown.map(({ clock, state }) => nowRow(clock, state)));
    nowStatus.textContent = shown.length
      ? `${shown.length} obligation${shown.length === 1 ? '' : 's'} shown.`
      : 'Nothing is due soon or overdue.';
  };
  const loadNow = async () => {
    // A breached clock stays "breached" once the obligation is met late: only those still owed are asked for.
    clocks = await api('/api/v1/obligations?state=running&state=breached&open=true&limit=500');
    drawNow();
  };
  onlyAtRisk.addEventListener('change', drawNow);
  try {
    await loadNow();
  } catch (error) {
    nowStatus.className = 'form-error';
    nowStatus.setAttribute('role', 'alert');
    nowStatus.textContent = `The obligations could not be loaded. ${describe(error)}`;
  }
  main.append(compliance(announce));
  const live = keepFresh(loadNow);
  return { destroy: () => live.stop() };
}

function nowRow(clock, state) {
  return h(
    'tr',
    {},
    h('td', {}, h('span', { class: `rag ${state}` }, STATE_WORDS[state])),
    h(
      'th',
      { scope: 'row' },
      h('a', { href: `/console/referrals/${encodeURIComponent(clock.referral_id)}` }, clock.reference),
    ),
    h('td', {}, clock.owed_by),
    h('td', {}, describeObligation(clock.obligation)),
    h('td', {}, formatWhen(clock.due_at)),
    h('td', {}, state === 'breached' ? 'none' : duration(clock.business_seconds_remaining)),
  );
}

function compliance(announce) {
  const period = h(
    'select',
    { id: 'report-period' },
    Object.entries(PERIODS).map(([days, label]) => h('option', { value: days }, label)),
  );
  const status = h('p', { role: 'status' });
  const tables = h('div');
  const csv = h('a', { class: 'button', download: 'ola-report.csv' }, 'Download as CSV');
  const load = async () => {
    const to = new Date();
    const from = new Date(to.getTime() - Number(period.value) * 86400 * 1000);
    const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    csv.href = `/api/v1/reports/ola.csv?${query}`;
    status.textContent = 'Loading the report…';
    try {
      const report = await api(`/api/v1/reports/ola?${query}`);
      tables.replaceChildren(
        complianceTable('By organisation pair', ['From', 'To'], report.organisation_pair),
        complianceTable('By obligation', ['Agreement', 'Obligation'], report.obligation),
      );
      status.textContent = '';
      announce(`OLA report for ${PERIODS[period.value].toLowerCase()} shown.`);
    } catch (error) {
      status.textContent = `The report could not be loaded. ${describe(error)}`;
    }
  };
  period.addEventListener('change', load);
  load();
  return h(
    'section',
    { 'aria-labelledby': 'compliance-title' },
    h('h2', { id: 'compliance-title' }, 'How obligations were met'),
    h('p', { class: 'inline-field' }, h('label', { for: 'report-period' }, 'Period '), period, ' ', csv),
    status,
    tables,
  );
}

function complianceTable(title, groupColumns, rows) {
  const head = [...groupColumns, 'Met', 'Breached', '% met', 'Median time to meet', '90th percentile'];
  return h(
    'table',
    { class: 'library compliance' },
    h('caption', {}, title),
    h('thead', {}, h('tr', {}, head.map((name) => h('th', { scope: 'col' }, name)))),
    h(
      'tbody',
      {},
      rows.length
        ? rows.map((row) =>
            h(
              'tr',
              {},
              row.group.map((part, index) =>
                h(index === 0 ? 'th' : 'td', index === 0 ? { scope: 'row' } : {}, part ?? '—'),
              ),
              h('td', {}, row.met),
              h('td', {}, row.breached),
              h('td', {}, percentBar(row.percent_met)),
              h('td', {}, duration(row.median_seconds_to_meet)),
              h('td', {}, duration(row.p90_seconds_to_meet)),
            ),
          )
        : h('tr', {}, h('td', { colspan: head.length }, 'No obligation was met or breached in this period.')),
    ),
  );
}

/** The percentage as a number and as a bar: the number carries the meaning, the bar the glance. */
function percentBar(percent) {
  const bar = h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill' }));
  bar.firstChild.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return h('span', { class: 'percent' }, bar, `${percent}%`);
}
