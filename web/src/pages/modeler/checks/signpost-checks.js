// The diagram's checks, as the canvas shows them: the server's verdict (its dry run of a deployment) as a
// marker on each element it names, bpmnlint's issues (drawn by bpmn-js-bpmnlint), and for the selected
// element the sentences of both in the properties panel, on the field they are about.

import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

const MARKER = 'signpost-problem';
const OVERLAY = 'signpost-problem';

export default class SignpostChecks {
  constructor(eventBus, canvas, overlays, elementRegistry, selection) {
    this._eventBus = eventBus;
    this._canvas = canvas;
    this._overlays = overlays;
    this._elementRegistry = elementRegistry;
    this._selection = selection;
    this.server = { state: 'unknown', problems: [] }; // problems of this diagram's file only
    this.lint = {}; // element id → [{ message, category, rule }]
    this._marked = [];
    eventBus.on('linting.completed', ({ issues }) => {
      this.lint = issues || {};
      this._changed();
    });
    eventBus.on('selection.changed', () => this._showFieldErrors());
    eventBus.on('import.done', () => this._mark());
  }

  /** state: 'checking' | 'valid' | 'invalid' | 'unavailable'. */
  setServer(state, problems = this.server.problems) {
    this.server = { state, problems };
    this._mark();
    this._changed();
  }

  /** The server's problems and bpmnlint's issues about ``element``: [{ source, severity, message }]. */
  about(element) {
    const found = this.serverProblemsAbout(element).map((problem) => ({
      source: 'server',
      severity: 'error',
      message: problem.message,
    }));
    for (const issue of this.lint[element.id] || []) {
      found.push({
        source: 'bpmnlint',
        severity: issue.category === 'warn' ? 'warning' : 'error',
        message: issue.message,
        rule: issue.rule,
      });
    }
    return found;
  }

  serverProblemsAbout(element) {
    const own = this.server.problems.filter((problem) => problem.element_id === element.id);
    if (!is(element, 'bpmn:SequenceFlow')) return own;
    // The server names the gateway when one of its conditions is refused, quoting the condition.
    const businessObject = getBusinessObject(element);
    const condition = businessObject.conditionExpression?.body?.trim();
    const source = businessObject.sourceRef?.id;
    if (!condition || !source) return own;
    return own.concat(
      this.server.problems.filter(
        (problem) => problem.element_id === source && problem.message.includes(condition),
      ),
    );
  }

  _mark() {
    for (const id of this._marked) {
      if (this._elementRegistry.get(id)) this._canvas.removeMarker(id, MARKER);
    }
    this._overlays.remove({ type: OVERLAY });
    this._marked = [];
    const counts = new Map();
    const root = this._canvas.getRootElement()?.id;
    for (const problem of this.server.problems) {
      // A problem of the whole process (no start event, say) has no shape to mark: the list says it.
      if (problem.element_id && problem.element_id !== root && this._elementRegistry.get(problem.element_id)) {
        counts.set(problem.element_id, (counts.get(problem.element_id) || 0) + 1);
      }
    }
    for (const [id, count] of counts) {
      this._canvas.addMarker(id, MARKER);
      this._marked.push(id);
      const badge = document.createElement('div');
      badge.className = 'signpost-problem-badge';
      badge.title = 'The server refuses this element: see Checks';
      badge.textContent = count > 1 ? `✕ ${count}` : '✕';
      badge.setAttribute('aria-hidden', 'true'); // the checks list says it in words
      this._overlays.add(id, OVERLAY, { position: { top: -10, left: -10 }, html: badge });
    }
  }

  _changed() {
    this._eventBus.fire('signpost.checks.changed', { checks: this });
    this._showFieldErrors();
  }

  /** The server's sentences on the fields of the selected element they are about. */
  _showFieldErrors() {
    const [element] = this._selection.get();
    const errors = {};
    if (element) {
      for (const problem of this.serverProblemsAbout(element)) {
        const entry = entryFor(element, problem.message);
        if (entry && !errors[entry]) errors[entry] = problem.message;
      }
    }
    this._eventBus.fire('propertiesPanel.setErrors', { errors });
  }
}

SignpostChecks.$inject = ['eventBus', 'canvas', 'overlays', 'elementRegistry', 'selection'];

/** The properties panel entry a server message is about (the server starts each with what it checked). */
function entryFor(element, message) {
  const text = message.toLowerCase();
  if (text.startsWith('pre-script')) return 'signpost-pre-script';
  if (text.startsWith('post-script')) return 'signpost-post-script';
  if (text.startsWith('script')) return 'signpost-script';
  if (text.startsWith('gateway condition') && is(element, 'bpmn:SequenceFlow')) return 'signpost-condition';
  if (text.startsWith('timer')) return 'timerEventDefinitionValue';
  const parameter = /^service task parameter '([a-z_]+)'/.exec(text);
  if (parameter) return parameter[1] === 'topic' ? 'signpost-topic' : `signpost-route-${parameter[1]}`;
  return null;
}
