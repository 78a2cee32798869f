// The list of everything to fix: the server's problems (for every file) and bpmnlint's issues (for the
// diagram on screen), each a button that shows its element. Arrow keys move between them.

import { h } from '../../../app/dom.js';
import { keyboardList } from '../../../app/keyboard-list.js';

const SERVER_SUMMARY = {
  unknown: 'Not checked by the server yet.',
  checking: 'The server is checking these files…',
  valid: 'The server accepts these files.',
  unavailable: 'The server’s dry run is not available: deploying checks the files.',
  error: 'The server could not check these files.',
};

export class ChecksPanel {
  constructor({ onReveal }) {
    this.onReveal = onReveal;
    this.summary = h('p', { class: 'checks-summary', role: 'status', id: 'checks-summary' });
    this.list = h('ul', { class: 'checks-list', 'aria-labelledby': 'checks-title' });
    this.keyboard = keyboardList(this.list);
    this.element = h(
      'section',
      { class: 'checks', 'aria-labelledby': 'checks-title' },
      h('h2', { id: 'checks-title' }, 'Checks'),
      this.summary,
      this.list,
    );
  }

  /**
   * server: { state, problems, detail }; lint: { elementId: [issues] } of ``activeFile``; nameOf(id) gives
   * an element's name in the diagram on screen.
   */
  update({ server, lint, activeFile, nameOf, files }) {
    const items = [
      ...server.problems.map((problem) => ({ ...problem, source: 'Server', severity: 'error' })),
      ...Object.entries(lint || {}).flatMap(([id, issues]) =>
        issues.map((issue) => ({
          source: 'bpmnlint',
          severity: issue.category === 'warn' ? 'warning' : 'error',
          file: activeFile,
          element_id: id,
          element_name: nameOf(id),
          message: issue.message,
        })),
      ),
    ];
    const order = { Server: 0, bpmnlint: 1 };
    items.sort((a, b) => order[a.source] - order[b.source] || (a.severity === 'error' ? -1 : 1) - (b.severity === 'error' ? -1 : 1));
    this.summary.textContent = `${serverSummary(server)} ${lintSummary(items)}`;
    this.list.replaceChildren(
      ...items.map((item) =>
        h(
          'li',
          { class: `check ${item.severity}` },
          h(
            'button',
            {
              type: 'button',
              class: 'check-button',
              tabindex: '-1',
              dataset: { element: item.element_id || '', file: item.file || '' },
              onClick: () => this.onReveal(item),
            },
            h('span', { class: `check-severity ${item.severity}` }, `${item.source} ${item.severity}`),
            ' ',
            h('span', { class: 'check-where' }, where(item, files.length > 1)),
            h('span', { class: 'check-message' }, item.message),
          ),
        ),
      ),
    );
    // One stop in the tab order: the first problem; the arrow keys reach the others.
    this.keyboard.reset();
  }
}

function serverSummary(server) {
  if (server.state === 'invalid') {
    const count = server.problems.length;
    return `The server refuses these files: ${count} ${count === 1 ? 'problem' : 'problems'} to fix before deploying.`;
  }
  const base = SERVER_SUMMARY[server.state] || '';
  return server.detail ? `${base} ${server.detail}` : base;
}

function lintSummary(items) {
  const lint = items.filter((item) => item.source === 'bpmnlint');
  if (!lint.length) return 'bpmnlint finds nothing to improve.';
  const errors = lint.filter((item) => item.severity === 'error').length;
  const warnings = lint.length - errors;
  return `bpmnlint: ${errors} ${errors === 1 ? 'error' : 'errors'}, ${warnings} ${warnings === 1 ? 'warning' : 'warnings'}.`;
}

function where(item, withFile) {
  const element = item.element_name
    ? `${item.element_name} (${item.element_id})`
    : item.element_id || (item.line ? `line ${item.line}` : '');
  const file = withFile && item.file ? item.file : '';
  const place = [file, element].filter(Boolean).join(' · ');
  return place ? `${place}: ` : '';
}
