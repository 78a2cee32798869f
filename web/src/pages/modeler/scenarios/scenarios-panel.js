// The pathway's scenario tests beside the modeler: the `<pathway>.scenarios.yaml` file in a text area (kept
// with the other files and deployed with them), run against the real engine with POST /api/v1/scenario-runs
// (docs/scenarios.md), pass or fail per scenario with its failures (each a button that goes to its line; the
// arrow keys move between them), and path coverage painted on the diagram: every element and sequence flow
// some scenario went through in one colour, the others in another.

import { ApiError, api, describe } from '../../../app/api.js';
import { h } from '../../../app/dom.js';
import { keyboardList } from '../../../app/keyboard-list.js';

const SCENARIO_FILE = /\.scenarios\.ya?ml$/i;
const MARKERS = { true: 'signpost-covered', false: 'signpost-uncovered' };

export class ScenariosPanel {
  /**
   * workspace()  the page's Workspace;  save()  saves the diagram on screen into it;
   * modeler()    the bpmn-js modeler when a BPMN diagram is on screen, else null;
   * processId()  the id of that diagram's process;  onChange()  the files changed (the page checks again);
   * announce(text)  read out to screen readers.
   */
  constructor({ workspace, save, modeler, processId, onChange, announce }) {
    Object.assign(this, { workspace, save, modeler, processId, onChange, announce });
    this.result = null; // the last run's answer
    this.painted = []; // [element id, marker] on the canvas
    this.fileLabel = h('label', { for: 'scenarios-text', class: 'scenarios-file' });
    this.text = h('textarea', {
      id: 'scenarios-text',
      class: 'scenarios-text',
      rows: '16',
      spellcheck: 'false',
      wrap: 'off',
      'aria-describedby': 'scenarios-help',
    });
    this.text.addEventListener('input', () => this.edited());
    this.runButton = h('button', { type: 'button', class: 'primary', onClick: () => this.run() }, 'Run scenarios');
    this.summary = h('p', { class: 'scenarios-summary', role: 'status', id: 'scenarios-summary' });
    this.list = h('ul', { class: 'scenarios-list', 'aria-label': 'Scenario results' });
    this.keyboard = keyboardList(this.list);
    this.coverage = h('div', { class: 'coverage', 'aria-label': 'Path coverage', role: 'group', hidden: true });
    this.element = h(
      'section',
      { class: 'scenarios', 'aria-labelledby': 'scenarios-title' },
      h('h2', { id: 'scenarios-title' }, 'Scenarios'),
      h(
        'div',
        { class: 'scenarios-grid' },
        h(
          'div',
          { class: 'scenarios-editor' },
          this.fileLabel,
          h(
            'p',
            { id: 'scenarios-help', class: 'hint' },
            'YAML: start data, steps and expectations (see docs/scenarios.md). Deployed with the diagrams.',
          ),
          this.text,
          h('div', { class: 'toolbar' }, this.runButton),
        ),
        h('div', { class: 'scenarios-results' }, this.summary, this.list, this.coverage),
      ),
    );
  }

  /** The workspace's scenario file, or the name a new one would have (it is added once it holds text). */
  file() {
    const files = this.workspace().files;
    const found = files.find((file) => SCENARIO_FILE.test(file.name));
    if (found) return found;
    const key = this.workspace().origin?.key || this.processId() || 'pathway';
    return { name: `${key}.scenarios.yaml`, kind: 'other', content: '' };
  }

  /** Shows the workspace's scenario file (after a version opened or files were imported). */
  load() {
    const file = this.file();
    this.fileLabel.textContent = `Scenario file: ${file.name}`;
    if (this.text.value !== file.content) this.text.value = file.content;
    this.clear();
  }

  edited() {
    const workspace = this.workspace();
    const file = this.file();
    file.content = this.text.value;
    if (!workspace.files.includes(file)) workspace.files.push(file);
    workspace.dirty = true;
    this.onChange();
  }

  async run() {
    this.runButton.disabled = true;
    this.element.setAttribute('aria-busy', 'true');
    this.summary.className = 'scenarios-summary';
    this.summary.textContent = 'Running the scenarios…';
    try {
      await this.save();
      const form = new FormData();
      for (const file of this.workspace().files) {
        form.append('files', new Blob([file.content], { type: 'application/octet-stream' }), file.name);
      }
      this.result = await api('/api/v1/scenario-runs', { method: 'POST', form });
      this.show();
    } catch (error) {
      this.result = null;
      this.unpaint();
      this.coverage.hidden = true;
      if (error instanceof ApiError && error.status === 422) {
        this.problems(error);
      } else {
        this.list.replaceChildren();
        this.tell(`The scenarios could not be run. ${describe(error)}`, 'problem');
      }
    } finally {
      this.runButton.disabled = false;
      this.element.setAttribute('aria-busy', 'false');
    }
  }

  /** A 422: the scenario file (or a diagram) is broken; nothing ran. */
  problems(error) {
    const problems = error.problems.length ? error.problems : [{ message: error.message }];
    this.tell(
      `Nothing ran: ${problems.length} ${problems.length === 1 ? 'problem' : 'problems'} in the files to fix first.`,
      'problem',
    );
    this.list.replaceChildren(
      ...problems.map((problem) =>
        h(
          'li',
          { class: 'scenario failed' },
          this.button(
            [problem.file, problem.line ? `line ${problem.line}` : ''].filter(Boolean).join(', '),
            problem.message,
            problem.line,
            problem.file,
          ),
        ),
      ),
    );
    this.roving();
  }

  show() {
    const { scenarios = [], passed } = this.result;
    const failed = scenarios.filter((scenario) => !scenario.passed).length;
    if (!scenarios.length) this.tell('No scenario ran: write one in the scenario file.', 'problem');
    else if (passed) this.tell(`All ${scenarios.length} scenarios passed.`, 'success');
    else this.tell(`${failed} of ${scenarios.length} scenarios failed.`, 'problem');
    this.list.replaceChildren(
      ...scenarios.map((scenario) =>
        h(
          'li',
          { class: `scenario ${scenario.passed ? 'passed' : 'failed'}` },
          this.button(scenario.passed ? 'Passed' : 'Failed', scenario.name, scenario.line, scenario.file, 'verdict'),
          scenario.failures?.length
            ? h(
                'ul',
                { class: 'failures' },
                scenario.failures.map((failure) =>
                  h(
                    'li',
                    {},
                    this.button(
                      `line ${failure.line ?? '?'}, ${stepName(failure.step)}`,
                      failure.message,
                      failure.line,
                      scenario.file,
                    ),
                  ),
                ),
              )
            : null,
        ),
      ),
    );
    this.roving();
    this.drawCoverage();
    this.paint();
    this.announce(`${this.summary.textContent} ${this.totals()}`);
  }

  button(where, message, line, file, kind = 'failure') {
    return h(
      'button',
      { type: 'button', class: `scenario-button ${kind}`, tabindex: '-1', onClick: () => this.goTo(line, file) },
      h('span', { class: 'scenario-where' }, `${where}: `),
      h('span', { class: 'scenario-message' }, message),
    );
  }

  /** Puts the cursor on ``line`` of the scenario file (when the line is in it). */
  goTo(line, file) {
    if (!line || (file && file !== this.file().name)) return;
    const lines = this.text.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((sum, each) => sum + each.length + 1, 0);
    this.text.focus();
    this.text.setSelectionRange(start, start + (lines[line - 1] || '').length);
    const height = this.text.scrollHeight / Math.max(lines.length, 1);
    this.text.scrollTop = Math.max(0, (line - 4) * height);
  }

  roving() {
    this.keyboard.reset();
  }

  tell(text, tone) {
    this.summary.textContent = text;
    this.summary.className = `scenarios-summary ${tone}`;
  }

  // ---- coverage ---------------------------------------------------------------------------------------------

  totals() {
    return Object.entries(this.result?.coverage || {})
      .map(([id, c]) => `${id}: ${c.elements_covered}/${c.elements_total} elements, ${c.flows_covered}/${c.flows_total} flows covered.`)
      .join(' ');
  }

  drawCoverage() {
    const coverage = this.result?.coverage || {};
    this.coverage.hidden = false;
    this.coverage.replaceChildren(
      h('h3', {}, 'Path coverage'),
      h(
        'ul',
        { class: 'coverage-legend', 'aria-label': 'Legend for the diagram' },
        h('li', {}, h('span', { class: 'swatch covered', 'aria-hidden': 'true' }), 'Covered: some scenario went through it'),
        h('li', {}, h('span', { class: 'swatch uncovered', 'aria-hidden': 'true' }), 'Not covered by any scenario'),
      ),
      h(
        'ul',
        { class: 'coverage-totals' },
        Object.entries(coverage).map(([id, c]) => {
          const missing = [
            ...Object.entries(c.elements || {}),
            ...Object.entries(c.flows || {}),
          ].filter(([, covered]) => !covered).map(([name]) => name);
          return h(
            'li',
            { dataset: { process: id } },
            h('strong', {}, id),
            ': ',
            h('span', { class: 'coverage-count' }, `${c.elements_covered}/${c.elements_total} elements, ${c.flows_covered}/${c.flows_total} flows`),
            missing.length ? ` — not covered: ${missing.join(', ')}` : ' — everything covered',
          );
        }),
      ),
    );
  }

  /** Marks every element and sequence flow of the diagram on screen that the last run reports on. */
  paint() {
    this.unpaint();
    const modeler = this.modeler();
    if (!modeler || !this.result) return;
    const canvas = modeler.get('canvas');
    const registry = modeler.get('elementRegistry');
    for (const process of Object.values(this.result.coverage || {})) {
      for (const [id, covered] of [...Object.entries(process.elements || {}), ...Object.entries(process.flows || {})]) {
        if (!registry.get(id)) continue;
        canvas.addMarker(id, MARKERS[covered]);
        this.painted.push([id, MARKERS[covered]]);
      }
    }
  }

  unpaint() {
    const modeler = this.modeler();
    if (modeler) {
      const canvas = modeler.get('canvas');
      const registry = modeler.get('elementRegistry');
      for (const [id, marker] of this.painted) if (registry.get(id)) canvas.removeMarker(id, marker);
    }
    this.painted = [];
  }

  /** Forgets the last run (another workspace is on screen). */
  clear() {
    this.unpaint();
    this.result = null;
    this.list.replaceChildren();
    this.coverage.hidden = true;
    this.tell('Not run yet.', '');
  }
}

function stepName(step) {
  if (step === null || step === undefined) return 'closing expect';
  return step === 0 ? 'start' : `step ${step}`;
}
