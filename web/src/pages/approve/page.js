// Compare and approve: a draft version beside the version new referrals start on now (or "new pathway"),
// with what was added, removed and changed marked on both diagrams (bpmn-js-differ) and listed property by
// property, the draft's scenario results and coverage, and the clinical approval with its reason. The API
// decides who may approve (a clinical approver who is not the person who deployed it); its refusal is shown
// as it is given, and nothing changes. A blueprint's local variants are approved each on its own, below the
// version's approval (variants.js).

import Viewer from 'bpmn-js/lib/Viewer';
import { diff } from 'bpmn-js-differ';

import { api, describe } from '../../app/api.js';
import { append, fieldOf, formatWhen, h, who } from '../../app/dom.js';
import { approvalForm } from './approval-form.js';
import { variantsSection } from './variants.js';

const MARKERS = {
  added: 'diff-added',
  removed: 'diff-removed',
  changed: 'diff-changed',
  layout: 'diff-layout',
};

export async function render({ main, params, announce, setTitle }) {
  const { key } = params;
  const number = Number(params.number);
  const versionPath = `/api/v1/definitions/${encodeURIComponent(key)}/versions/${number}`;
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading the version…');
  const heading = h('h1', {}, `Review version ${number} of ${key}`);
  main.append(h('div', { class: 'page-head' }, heading), status);
  setTitle(`Review version ${number} of ${key}`);

  const viewers = [];
  let definition;
  let draft;
  let base = null;
  try {
    definition = await api(`/api/v1/definitions/${encodeURIComponent(key)}`);
    draft = await api(versionPath);
    const current = fieldOf(definition, 'startable_version', 'current_version');
    if (current && current !== number) {
      base = await api(`/api/v1/definitions/${encodeURIComponent(key)}/versions/${current}`);
    }
  } catch (error) {
    status.className = 'form-error';
    status.setAttribute('role', 'alert');
    status.textContent = `The version could not be loaded. ${describe(error)}`;
    return;
  }
  status.remove();
  const name = definition.name || key;
  heading.textContent = `Review version ${number} of ${name}`;
  setTitle(`Review version ${number} of ${name}`);

  const summary = h(
    'p',
    { class: 'approve-summary' },
    `Deployed by ${draft.deployed_by_person || who(draft.deployed_by)} on ${formatWhen(draft.deployed_at)}. `,
    base
      ? `Compared with version ${base.number}, which new referrals start on now.`
      : 'No version takes new referrals yet: this is a new pathway.',
  );

  const legend = h(
    'ul',
    { class: 'diff-legend', 'aria-label': 'What the markers on the diagrams mean' },
    h('li', {}, h('span', { class: 'swatch added', 'aria-hidden': 'true' }), 'Added in the draft'),
    h('li', {}, h('span', { class: 'swatch removed', 'aria-hidden': 'true' }), 'Removed by the draft'),
    h('li', {}, h('span', { class: 'swatch changed', 'aria-hidden': 'true' }), 'Changed'),
    h('li', {}, h('span', { class: 'swatch layout', 'aria-hidden': 'true' }), 'Moved only'),
  );
  const baseCanvas = h('div', { class: 'diff-canvas', id: 'diff-base' });
  const draftCanvas = h('div', { class: 'diff-canvas', id: 'diff-draft' });
  const diagrams = h(
    'div',
    { class: 'diff-diagrams' },
    h(
      'section',
      { 'aria-labelledby': 'diff-base-title' },
      h('h2', { id: 'diff-base-title' }, base ? `Version ${base.number} (now in use)` : 'Now in use'),
      base
        ? baseCanvas
        : h('p', { class: 'new-pathway' }, 'New pathway: no earlier version to compare with.'),
    ),
    h(
      'section',
      { 'aria-labelledby': 'diff-draft-title' },
      h('h2', { id: 'diff-draft-title' }, `Version ${number} (${draft.approval || draft.status || 'draft'})`),
      draftCanvas,
    ),
  );
  const changes = h(
    'section',
    { class: 'diff-changes', 'aria-labelledby': 'changes-title' },
    h('h2', { id: 'changes-title' }, 'What changed'),
  );
  const scenarios = h(
    'section',
    { class: 'approve-scenarios', 'aria-labelledby': 'scenarios-title' },
    h('h2', { id: 'scenarios-title' }, 'Scenario results and coverage'),
    h('p', { class: 'loading', role: 'status' }, 'Running the scenarios stored with this version…'),
  );
  const approval = h(
    'section',
    { class: 'approval', 'aria-labelledby': 'approval-title' },
    h('h2', { id: 'approval-title' }, 'Clinical approval'),
  );
  main.append(summary, legend, diagrams, changes, scenarios, approval);
  append(main, variantsSection(draft, versionPath, announce));

  drawApproval(approval, draft, versionPath, announce);
  runScenarios(scenarios, versionPath);

  try {
    const draftXml = bpmnOf(draft, draft.process_id || key);
    const draftViewer = new Viewer({ container: draftCanvas });
    viewers.push(draftViewer);
    await draftViewer.importXML(draftXml);
    draftViewer.get('canvas').zoom('fit-viewport');
    let baseViewer = null;
    if (base) {
      baseViewer = new Viewer({ container: baseCanvas });
      viewers.push(baseViewer);
      await baseViewer.importXML(bpmnOf(base, base.process_id || key));
      baseViewer.get('canvas').zoom('fit-viewport');
    }
    const found = baseViewer ? diff(baseViewer.getDefinitions(), draftViewer.getDefinitions()) : null;
    if (found) mark(found, baseViewer, draftViewer);
    append(changes, changeList(found));
  } catch (error) {
    const said = `The diagrams could not be compared. ${describe(error)}`;
    changes.append(h('p', { class: 'form-error', role: 'alert' }, said));
  }

  return {
    destroy() {
      for (const viewer of viewers) viewer.destroy();
    },
  };
}

/** The BPMN file of ``version`` that holds process ``key`` (else its first BPMN file). */
function bpmnOf(version, key) {
  const files = (version.files || []).filter((file) => /\.bpmn$/i.test(file.name || file.filename || ''));
  const holding = files.find((file) => (file.content || '').includes(`id="${key}"`));
  const file = holding || files[0];
  if (!file) throw new Error(`version ${version.number} has no BPMN file`);
  return file.content;
}

function mark(found, baseViewer, draftViewer) {
  const put = (viewer, ids, marker) => {
    const registry = viewer.get('elementRegistry');
    const canvas = viewer.get('canvas');
    for (const id of ids) if (registry.get(id)) canvas.addMarker(id, marker);
  };
  put(draftViewer, Object.keys(found._added), MARKERS.added);
  put(baseViewer, Object.keys(found._removed), MARKERS.removed);
  put(draftViewer, Object.keys(found._changed), MARKERS.changed);
  put(baseViewer, Object.keys(found._changed), MARKERS.changed);
  const layoutOnly = Object.keys(found._layoutChanged).filter((id) => !found._changed[id]);
  put(draftViewer, layoutOnly, MARKERS.layout);
  put(baseViewer, layoutOnly, MARKERS.layout);
}

function changeList(found) {
  if (!found) return h('p', {}, 'Every element of the draft is new.');
  const rows = [];
  const label = (element, id) => {
    const name = element?.name;
    return name ? [name, ' ', h('code', {}, id)] : h('code', {}, id);
  };
  for (const [id, element] of Object.entries(found._added)) {
    rows.push(['added', label(element, id), typeOf(element), '—', '—']);
  }
  for (const [id, element] of Object.entries(found._removed)) {
    rows.push(['removed', label(element, id), typeOf(element), '—', '—']);
  }
  for (const [id, change] of Object.entries(found._changed)) {
    // bpmn-js-differ 3.2.0 names the pair the other way round: its ``newValue`` is the value in the first
    // definitions given to diff() (the version in use), its ``oldValue`` the value in the second (the draft).
    for (const [attribute, values] of Object.entries(change.attrs || {})) {
      const element = label(change.model, id);
      rows.push(['changed', element, attribute, show(values.newValue), show(values.oldValue)]);
    }
  }
  const moved = Object.keys(found._layoutChanged).filter((id) => !found._changed[id]);
  if (rows.length === 0 && moved.length === 0) {
    return h('p', { class: 'no-changes' }, 'No difference from the version in use.');
  }
  const counted = `${rows.length} ${rows.length === 1 ? 'change' : 'changes'} to elements and properties`;
  return [
    rows.length
      ? h(
          'table',
          { class: 'changed-properties' },
          h('caption', {}, counted),
          header(['Change', 'Element', 'Property or type', 'Before', 'After']),
          h(
            'tbody',
            {},
            rows.map(([kind, element, property, before, after]) =>
              h(
                'tr',
                { class: `change-${kind}` },
                h('td', {}, h('span', { class: `badge diff-${kind}` }, kind)),
                h('td', {}, element),
                h('td', {}, property),
                h('td', {}, before),
                h('td', {}, after),
              ),
            ),
          ),
        )
      : null,
    moved.length ? h('p', {}, `Moved on the diagram only: ${moved.join(', ')}.`) : null,
  ];
}

function header(names) {
  return h('thead', {}, h('tr', {}, names.map((name) => h('th', { scope: 'col' }, name))));
}

function typeOf(element) {
  return (element?.$type || '').replace(/^bpmn:/, '');
}

function show(value) {
  if (value === undefined || value === null || value === '') return '—';
  if (typeof value === 'object') {
    if (value.id) return value.id;
    try {
      return JSON.stringify(value, (k, v) => (k.startsWith('$') ? undefined : v));
    } catch {
      return String(value);
    }
  }
  return String(value);
}

async function runScenarios(section, versionPath) {
  const status = section.querySelector('[role="status"]');
  let run;
  try {
    run = await api(`${versionPath}/scenario-runs`, { method: 'POST' });
  } catch (error) {
    status.className = 'form-error';
    status.setAttribute('role', 'alert');
    status.textContent = `The scenarios could not be run. ${describe(error)}`;
    return;
  }
  const results = run.scenarios || [];
  const passed = results.filter((s) => s.passed).length;
  status.className = run.passed ? 'scenario-total passed' : 'scenario-total failed';
  status.textContent =
    results.length === 0
      ? 'No scenario is stored with this version.'
      : `${passed} of ${results.length} scenarios pass.`;
  if (results.length) {
    section.append(
      h(
        'ul',
        { class: 'scenario-results' },
        results.map((s) =>
          h(
            'li',
            {},
            h(
              'span',
              { class: `badge ${s.passed ? 'status-approved' : 'status-failed'}` },
              s.passed ? 'Pass' : 'Fail',
            ),
            ' ',
            s.name,
            (s.failures || []).length
              ? h('ul', {}, s.failures.map((f) => h('li', {}, `line ${f.line ?? '?'}: ${f.message}`)))
              : null,
          ),
        ),
      ),
    );
  }
  const coverage = Object.entries(run.coverage || {});
  if (coverage.length) {
    section.append(
      h(
        'table',
        { class: 'coverage' },
        h('caption', {}, 'Path coverage'),
        header(['Process', 'Covered', 'Elements', 'Flows']),
        h(
          'tbody',
          {},
          coverage.map(([process, c]) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, process),
              h('td', {}, `${c.covered} of ${c.total}`),
              h('td', {}, `${c.elements_covered} of ${c.elements_total}`),
              h('td', {}, `${c.flows_covered} of ${c.flows_total}`),
            ),
          ),
        ),
      ),
    );
  }
}

function drawApproval(section, version, versionPath, announce) {
  const state = (version.approval || version.status) === 'approved' ? approvedText(version) : null;
  if (state) {
    section.append(state);
    return;
  }
  const form = approvalForm({
    id: 'approval',
    label: 'Reason for approval',
    hint:
      'Say what you reviewed (the changes, the scenarios, the coverage). ' +
      'It is kept with the version and in the audit trail.',
    button: `Approve version ${version.number}`,
    path: `${versionPath}/approve`,
    approved: (answer) => {
      form.replaceWith(approvedText(answer));
      announce(`Version ${answer.number} approved.`);
    },
  });
  section.append(form);
}

function approvedText(version) {
  return h(
    'p',
    { class: 'approved-status', role: 'status' },
    h('span', { class: 'badge status-approved' }, 'Approved'),
    ` Version ${version.number} approved by ${version.approved_by_person || who(version.approved_by)}` +
      ` on ${formatWhen(version.approved_at)}: `,
    h('q', {}, fieldOf(version, 'approval_reason', 'reason') || ''),
  );
}
