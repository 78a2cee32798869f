// A referral on its pathway's diagram, for the operators who work it: the elements it has passed, where it
// waits now (a person's task, an external system's task, a message, a timer) and the element of an
// incident, each marked on the diagram and said in words beside it (colour is never the only sign).

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import { api } from '../../app/api.js';
import { formatWhen, h } from '../../app/dom.js';

const MARKERS = { passed: 'signpost-passed', waiting: 'signpost-waiting', incident: 'signpost-incident' };

/**
 * { element, draw(), destroy() }: the diagram section of ``referral`` with its engine ``events``; ``draw()``
 * once the element is on the page (the diagram is fitted to the space it has there).
 */
export async function referralDiagram(referral, events) {
  const { key, version } = referral.pathway;
  const stored = await api(`/api/v1/definitions/${encodeURIComponent(key)}/versions/${version}`);
  const bpmn = mainDiagram(stored);
  const canvasElement = h('div', { class: 'referral-canvas' });
  const list = h('ul', { class: 'waits' });
  const section = h(
    'section',
    { 'aria-labelledby': 'diagram-title', class: 'referral-diagram' },
    h('h2', { id: 'diagram-title' }, 'On the pathway'),
    h(
      'p',
      { class: 'legend' },
      h('span', { class: 'legend-passed' }, 'passed'),
      ' ',
      h('span', { class: 'legend-waiting' }, 'waiting here now'),
      ' ',
      h('span', { class: 'legend-incident' }, 'incident'),
    ),
    canvasElement,
    list,
  );
  const viewer = new NavigatedViewer({ container: canvasElement });
  const draw = async () => {
    if (!bpmn) {
      canvasElement.replaceWith(h('p', {}, 'The pathway version holds no diagram to show.'));
      list.replaceChildren(...waitLines(referral, null));
      return;
    }
    try {
      await viewer.importXML(bpmn);
    } catch {
      const note = 'The pathway’s diagram has no drawing (no BPMN diagram information).';
      canvasElement.replaceWith(h('p', {}, note));
      list.replaceChildren(...waitLines(referral, null));
      return;
    }
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    const marks = markedElements(referral, events, registry);
    for (const [id, state] of marks) {
      if (registry.get(id)) canvas.addMarker(id, MARKERS[state]);
    }
    // Sequence flows from a passed element to one reached after it were taken.
    for (const flow of registry.filter((element) => element.type === 'bpmn:SequenceFlow')) {
      if (marks.get(flow.source?.id) === 'passed' && marks.has(flow.target?.id)) {
        canvas.addMarker(flow.id, MARKERS.passed);
      }
    }
    list.replaceChildren(...waitLines(referral, registry));
  };
  return { element: section, draw, destroy: () => viewer.destroy() };
}

/** The BPMN file of the version's process (the one defining process_id), or the first BPMN file. */
function mainDiagram(stored) {
  const bpmnFiles = (stored.files || []).filter((file) => file.filename.endsWith('.bpmn'));
  const main = bpmnFiles.find((file) => file.content.includes(`id="${stored.process_id}"`));
  return (main || bpmnFiles[0])?.content || null;
}

/** element id → 'passed' | 'waiting' | 'incident' (the later states win). */
function markedElements(referral, events, registry) {
  const marks = new Map();
  for (const event of events) {
    const id = event.detail?.element_id;
    if (id && ['step_completed', 'task_completed', 'external_task_completed'].includes(event.kind)) {
      marks.set(id, 'passed');
    }
  }
  // A referral exists because its process started: a single start event was passed, though a run that
  // ended in an incident logs none of its steps.
  const starts = registry.filter(
    (element) => element.type === 'bpmn:StartEvent' && element.parent?.type === 'bpmn:Process',
  );
  if (starts.length === 1) marks.set(starts[0].id, 'passed');
  const waiting = referral.waiting_for;
  for (const task of [...waiting.tasks, ...waiting.external_tasks]) marks.set(task.element_id, 'waiting');
  for (const element of catchEvents(registry)) {
    const definition = element.businessObject.eventDefinitions?.[0];
    const message = definition?.messageRef?.name;
    const timerNamed = definition?.$type === 'bpmn:TimerEventDefinition' && element.businessObject.name;
    if ((message && waiting.messages.includes(message)) || (timerNamed && timerWaits(referral, timerNamed))) {
      marks.set(element.id, 'waiting');
    }
  }
  const incident = events.filter((event) => event.kind === 'incident').pop()?.detail?.element_id;
  if (referral.status === 'incident' && incident) marks.set(incident, 'incident');
  return marks;
}

function catchEvents(registry) {
  return registry.filter((element) =>
    ['bpmn:IntermediateCatchEvent', 'bpmn:BoundaryEvent', 'bpmn:ReceiveTask'].includes(element.type),
  );
}

function timerWaits(referral, name) {
  return referral.waiting_for.timers.some((timer) => timer.name === name);
}

/** The waits in words: what the referral waits for now, and until when. */
function waitLines(referral, registry) {
  const label = (id) => registry?.get(id)?.businessObject?.name || id;
  const waiting = referral.waiting_for;
  const lines = [
    ...waiting.tasks.map((task) => `A person's task: ${task.title || label(task.element_id)}`),
    ...waiting.external_tasks.map((task) => `An external system's task: ${task.title || task.topic}`),
    ...waiting.messages.map((name) => `A message: ${name}`),
    ...waiting.signals.map((name) => `A signal: ${name}`),
    ...waiting.timers.map((timer) => `A timer: ${timer.name}, due ${formatWhen(timer.due_at)}`),
  ];
  if (referral.status === 'incident') {
    lines.unshift(`Stopped by an incident at ${referral.incident.task}: ${referral.incident.error}`);
  }
  if (!lines.length) lines.push('It waits for nothing: the pathway has finished.');
  return lines.map((line) => h('li', {}, line));
}
