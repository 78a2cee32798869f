// A user task's lane (who works on it: a lane of the diagram, or a new one for a point of access of the
// service directory) and its form (one of the workspace's task forms, or a new one opened in form-js's
// editor). Signpost reads the lane from the lane that holds the task (its flowNodeRef) and the form from
// camunda:formRef, or SpiffWorkflow's formJsonSchemaFilename property when a diagram has that already
// (engine/bpmn/task_forms.py).

import { h } from '@bpmn-io/properties-panel/preact';
import { SelectEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import { extensionOf, setAttributes } from './extensions.js';

const NEW_LANE = 'new-lane:';
const NEW_FORM = '__new-form';
const SPIFF_FORM_PROPERTY = 'formJsonSchemaFilename';
const POINT_OF_ACCESS = 'point-of-access';

// ---- lanes ----------------------------------------------------------------------------------------------------

function lanesOf(elementRegistry) {
  return elementRegistry.filter((each) => is(each, 'bpmn:Lane'));
}

/** The lane shape holding ``element`` (the innermost, when lanes nest), or undefined. */
function laneOf(element, elementRegistry) {
  const businessObject = getBusinessObject(element);
  const holding = lanesOf(elementRegistry).filter((lane) =>
    (getBusinessObject(lane).flowNodeRef || []).includes(businessObject),
  );
  return holding.find((lane) => !holding.some((other) => other.parent === lane)) || holding[0];
}

function laneName(lane) {
  return getBusinessObject(lane).name || '';
}

export function LaneEntry({ element, id }) {
  const elementRegistry = useService('elementRegistry');
  const modeling = useService('modeling');
  const elementFactory = useService('elementFactory');
  const canvas = useService('canvas');
  const services = useService('config').signpost?.services || [];
  const lanes = lanesOf(elementRegistry).filter((lane) => !lanesOf(elementRegistry).some((inner) => inner.parent === lane));
  const named = new Set(lanes.map(laneName));
  const current = laneOf(element, elementRegistry);
  const pointsOfAccess = services.filter((service) => service.kind === POINT_OF_ACCESS && !named.has(service.name));
  return h(SelectEntry, {
    element,
    id,
    label: 'Lane (who works on it)',
    description:
      'A lane of this diagram, or a new lane for a point of access from the service directory. ' +
      'Operators find the task under its lane’s name.',
    getValue: () => current?.id || '',
    getOptions: () => [
      ...(current ? [] : [{ value: '', label: 'Not in a lane' }]),
      ...lanes.map((lane) => ({ value: lane.id, label: laneName(lane) || `Unnamed lane (${lane.id})` })),
      ...pointsOfAccess.map((service) => ({
        value: `${NEW_LANE}${service.id}`,
        label: `New lane: ${service.name} (point of access)`,
      })),
    ],
    setValue: (value) => {
      if (!value) return;
      let lane = elementRegistry.get(value);
      if (value.startsWith(NEW_LANE)) {
        const service = services.find((each) => each.id === value.slice(NEW_LANE.length));
        lane = addLane(element, service.name, { elementRegistry, modeling, elementFactory, canvas });
      }
      if (lane) moveIntoLane(element, lane, modeling);
    },
  });
}

/** A new lane named ``name`` at the bottom of the pool holding ``element`` (a pool is made around the process
 * when it has none). */
function addLane(element, name, { elementRegistry, modeling, elementFactory, canvas }) {
  let participant = elementRegistry.filter((each) => is(each, 'bpmn:Participant'))[0];
  if (!participant) {
    const root = canvas.getRootElement();
    const shapes = root.children.filter((each) => !each.waypoints && !each.labelTarget);
    const box = boundsOf(shapes.length ? shapes : [element]);
    const shape = elementFactory.createParticipantShape({ isExpanded: true });
    Object.assign(shape, { width: box.width + 160, height: Math.max(box.height + 120, 250) });
    participant = modeling.createShape(
      shape,
      { x: box.x + box.width / 2 - 15, y: box.y + box.height / 2 },
      root,
    );
    modeling.updateLabel(participant, getBusinessObject(root).name || 'Pathway');
  }
  const lanes = lanesOf(elementRegistry).filter((lane) => lane.parent === participant);
  const last = lanes.sort((a, b) => a.y - b.y).pop();
  const lane = modeling.addLane(last || participant, 'bottom');
  modeling.updateLabel(lane, name);
  if (!last) {
    // The pool's first lane holds what was drawn before: the steps Signpost runs itself, as the shipped
    // pathways name that lane.
    const first = lanesOf(elementRegistry).find((each) => each.parent === participant && each !== lane);
    if (first && !laneName(first)) modeling.updateLabel(first, 'Signpost');
  }
  return lane;
}

function boundsOf(shapes) {
  const x = Math.min(...shapes.map((each) => each.x));
  const y = Math.min(...shapes.map((each) => each.y));
  const right = Math.max(...shapes.map((each) => each.x + each.width));
  const bottom = Math.max(...shapes.map((each) => each.y + each.height));
  return { x, y, width: right - x, height: bottom - y };
}

/** Moves ``element`` down or up into ``lane``: bpmn-js then updates the lanes' flowNodeRef, which is what
 * Signpost reads. */
function moveIntoLane(element, lane, modeling) {
  const middle = lane.y + lane.height / 2;
  const delta = { x: 0, y: Math.round(middle - (element.y + element.height / 2)) };
  if (delta.y) modeling.moveElements([element], delta);
}

// ---- forms ------------------------------------------------------------------------------------------------------

function spiffFormProperty(businessObject) {
  const properties = extensionOf(businessObject, 'spiffworkflow:Properties');
  return (properties?.properties || []).find((property) => property.name === SPIFF_FORM_PROPERTY);
}

/** The form the user task names, as written (a form name, or a file name ending .form.json), or ''. */
export function formOf(element) {
  const businessObject = getBusinessObject(element);
  return businessObject.get('camunda:formRef') || spiffFormProperty(businessObject)?.value || '';
}

function formName(reference) {
  return reference.endsWith('.form.json') ? reference.slice(0, -'.form.json'.length) : reference;
}

/** A form name from the task's name ("Check the referral" → check_the_referral), not yet taken. */
function newFormName(element, taken) {
  const businessObject = getBusinessObject(element);
  const base =
    (businessObject.name || businessObject.id)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'task_form';
  let name = base;
  for (let number = 2; taken.includes(name); number += 1) name = `${base}_${number}`;
  return name;
}

export function FormEntry({ element, id }) {
  const commandStack = useService('commandStack');
  const forms = useService('config').signpost?.forms;
  const names = forms?.names() || [];
  const reference = formOf(element);
  const current = formName(reference);
  const setForm = (name) => {
    const businessObject = getBusinessObject(element);
    const property = spiffFormProperty(businessObject);
    if (property && name) setAttributes(element, property, { value: `${name}.form.json` }, { commandStack });
    else setAttributes(element, businessObject, { 'camunda:formRef': name || undefined }, { commandStack });
  };
  return h(SelectEntry, {
    element,
    id,
    label: 'Form',
    description: 'What the person completing the task fills in; the server checks their answers against it.',
    getValue: () => current,
    getOptions: () => [
      { value: '', label: 'No form' },
      ...names.map((name) => ({ value: name, label: `${name}.form.json` })),
      ...(current && !names.includes(current) ? [{ value: current, label: `${reference} (not among these files)` }] : []),
      ...(forms ? [{ value: NEW_FORM, label: 'Create a new form for this task…' }] : []),
    ],
    setValue: (value) => {
      if (value === NEW_FORM) {
        const name = newFormName(element, names);
        setForm(name);
        forms.create(name, getBusinessObject(element).name);
      } else {
        setForm(value);
      }
    },
  });
}

export function OpenFormEntry({ element, id }) {
  const forms = useService('config').signpost?.forms;
  const name = formName(formOf(element));
  if (!forms || !name || !forms.names().includes(name)) return null;
  return h(
    'div',
    { class: 'bio-properties-panel-entry signpost-open-form', 'data-entry-id': id },
    h(
      'button',
      { type: 'button', class: 'signpost-panel-button', onClick: () => forms.open(name) },
      `Edit the form ${name}.form.json`,
    ),
  );
}
