// Where referrals wait: a pathway version's diagram with, on each element, how many referrals passed it and
// how long they stayed there (median), shaded from short to long; the same figures in a table beside it.

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import { api, describe } from '../../app/api.js';
import { duration, h } from '../../app/dom.js';

const PERIODS = { 7: 'The last 7 days', 30: 'The last 30 days', 90: 'The last 90 days' };
const SHADES = ['heat-1', 'heat-2', 'heat-3', 'heat-4'];

export async function render({ main, query, navigate }) {
  main.classList.add('wide');
  const status = h('p', { role: 'status' }, 'Loading the pathways…');
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Where referrals wait')), status);
  let pathways;
  try {
    pathways = await api('/api/v1/definitions');
  } catch (error) {
    status.textContent = `The pathways could not be loaded. ${describe(error)}`;
    return undefined;
  }
  if (!pathways.length) {
    status.textContent = 'No pathway has been deployed yet.';
    return undefined;
  }
  const key = pathways.some((p) => p.key === query.get('pathway')) ? query.get('pathway') : pathways[0].key;
  const definition = await api(`/api/v1/definitions/${encodeURIComponent(key)}`);
  const numbers = definition.versions.map((v) => v.number).sort((a, b) => b - a);
  const number = numbers.includes(Number(query.get('version'))) ? Number(query.get('version')) : numbers[0];
  const days = PERIODS[query.get('days')] ? query.get('days') : '30';
  const go = (changes) => {
    const next = { pathway: key, version: number, days, ...changes };
    navigate(`/console/heatmap?${new URLSearchParams(next)}`);
  };
  const choose = (id, label, options, selected, onChange) =>
    h(
      'p',
      { class: 'inline-field' },
      h('label', { for: id }, label),
      h(
        'select',
        { id, onChange: (event) => onChange(event.target.value) },
        options.map(([value, text]) =>
          h('option', { value, selected: String(value) === String(selected) }, text),
        ),
      ),
    );
  main.append(
    h(
      'div',
      { class: 'filters' },
      choose('heat-pathway', 'Pathway', pathways.map((p) => [p.key, p.name || p.key]), key, (value) =>
        go({ pathway: value, version: '' }),
      ),
      choose('heat-version', 'Version', numbers.map((n) => [n, `Version ${n}`]), number, (value) =>
        go({ version: value }),
      ),
      choose('heat-days', 'Period', Object.entries(PERIODS), days, (value) => go({ days: value })),
    ),
  );
  status.textContent = 'Loading the figures…';
  const to = new Date();
  const from = new Date(to.getTime() - Number(days) * 86400 * 1000);
  let report;
  let version;
  try {
    const period = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    [report, version] = await Promise.all([
      api(`/api/v1/reports/pathways/${encodeURIComponent(key)}/versions/${number}/dwell?${period}`),
      api(`/api/v1/definitions/${encodeURIComponent(key)}/versions/${number}`),
    ]);
  } catch (error) {
    status.textContent = `The figures could not be loaded. ${describe(error)}`;
    return undefined;
  }
  const plural = report.referrals === 1 ? '' : 's';
  status.textContent = `${report.referrals} referral${plural} started in the period.`;
  const canvasElement = h('div', { class: 'referral-canvas heatmap-canvas' });
  const table = h('table', { class: 'library heatmap-table' });
  main.append(canvasElement, table);
  const viewer = new NavigatedViewer({ container: canvasElement });
  const bpmn = (version.files || []).find(
    (file) => file.filename.endsWith('.bpmn') && file.content.includes(`id="${version.process_id}"`),
  );
  const names = new Map();
  if (bpmn) {
    try {
      await viewer.importXML(bpmn.content);
      viewer.get('canvas').zoom('fit-viewport');
      shade(viewer, report.elements);
      for (const element of viewer.get('elementRegistry').getAll()) {
        names.set(element.id, element.businessObject?.name);
      }
    } catch {
      canvasElement.replaceWith(h('p', {}, 'The pathway’s diagram has no drawing to shade.'));
    }
  }
  table.append(
    h('caption', {}, 'Longest median stay first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Element', 'Referrals that passed', 'Median stay', '90th percentile'].map((title) =>
          h('th', { scope: 'col' }, title),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      report.elements.length
        ? report.elements.map((element) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, names.get(element.element_id) || element.element_id),
              h('td', {}, element.passed),
              h('td', {}, duration(element.median_seconds)),
              h('td', {}, duration(element.p90_seconds)),
            ),
          )
        : h('tr', {}, h('td', { colspan: 4 }, 'No referral passed any element in this period.')),
    ),
  );
  return { destroy: () => viewer.destroy() };
}

/** Shade each element by its median stay (quarters of the longest) and badge it with its figures. */
function shade(viewer, elements) {
  const canvas = viewer.get('canvas');
  const overlays = viewer.get('overlays');
  const registry = viewer.get('elementRegistry');
  const longest = Math.max(1, ...elements.map((e) => e.median_seconds));
  for (const element of elements) {
    if (!registry.get(element.element_id)) continue;
    const quarter = Math.min(3, Math.floor((4 * element.median_seconds) / (longest + 1)));
    canvas.addMarker(element.element_id, SHADES[quarter]);
    overlays.add(element.element_id, 'heat', {
      position: { bottom: -4, left: 0 },
      html: h('span', { class: 'heat-badge' }, `${element.passed} · ${duration(element.median_seconds)}`),
    });
  }
}
