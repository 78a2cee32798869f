// Reading and changing Signpost's extension elements (the SpiffWorkflow namespace, see ../signpost-moddle.json)
// on a diagram element, each change one undoable command.

import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

export const ROUTE = 'signpost.route';
export const EXTERNAL = 'signpost.external';

export function extensionOf(businessObject, type) {
  return (businessObject?.extensionElements?.values || []).find((value) => is(value, type));
}

/** The body text of a body-only extension (a pre-script, a post-script), or ''. */
export function bodyOf(element, type) {
  return extensionOf(getBusinessObject(element), type)?.value || '';
}

/** The service task's spiffworkflow:serviceTaskOperator, or undefined. */
export function operatorOf(element) {
  return extensionOf(getBusinessObject(element), 'spiffworkflow:ServiceTaskOperator');
}

export function parameterOf(operator, name) {
  return (operator?.parameterList?.parameters || []).find((parameter) => parameter.id === name);
}

/** The command that gives ``businessObject`` an extensionElements container, and the container. */
function ensureContainer(element, businessObject, bpmnFactory, commands) {
  let container = businessObject.extensionElements;
  if (!container) {
    container = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    container.$parent = businessObject;
    commands.push(update(element, businessObject, { extensionElements: container }));
  }
  return container;
}

function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

function run(commandStack, commands) {
  if (commands.length) commandStack.execute('properties-panel.multi-command-executor', commands);
}

/** Sets (or, for '', removes) a body-only extension such as spiffworkflow:PreScript. */
export function setBody(element, type, text, { bpmnFactory, commandStack }) {
  const businessObject = getBusinessObject(element);
  const existing = extensionOf(businessObject, type);
  const commands = [];
  if (!text) {
    if (existing) {
      const container = businessObject.extensionElements;
      commands.push(
        update(element, container, { values: container.values.filter((value) => value !== existing) }),
      );
    }
  } else if (existing) {
    commands.push(update(element, existing, { value: text }));
  } else {
    const container = ensureContainer(element, businessObject, bpmnFactory, commands);
    const created = bpmnFactory.create(type, { value: text });
    created.$parent = container;
    commands.push(update(element, container, { values: [...container.values, created] }));
  }
  run(commandStack, commands);
}

/**
 * Makes the service task call ``operatorId`` (signpost.route, signpost.external) with ``parameters``
 * ({ name: { type, value } }) — replacing another operator and a Camunda external task's attributes — or
 * none at all when ``operatorId`` is ''.
 */
export function setOperator(element, operatorId, parameters, { bpmnFactory, commandStack }, resultVariable) {
  const businessObject = getBusinessObject(element);
  const commands = [];
  const existing = operatorOf(element);
  if (businessObject.get('camunda:type') || businessObject.get('camunda:topic')) {
    commands.push(update(element, businessObject, { 'camunda:type': undefined, 'camunda:topic': undefined }));
  }
  if (existing) {
    const container = businessObject.extensionElements;
    commands.push(
      update(element, container, { values: container.values.filter((value) => value !== existing) }),
    );
  }
  if (operatorId) {
    const container = ensureContainer(element, businessObject, bpmnFactory, commands);
    const list = bpmnFactory.create('spiffworkflow:Parameters', { parameters: [] });
    for (const [name, { type, value }] of Object.entries(parameters)) {
      const parameter = bpmnFactory.create('spiffworkflow:Parameter', { id: name, type, value });
      parameter.$parent = list;
      list.parameters.push(parameter);
    }
    const operator = bpmnFactory.create('spiffworkflow:ServiceTaskOperator', {
      id: operatorId,
      resultVariable: resultVariable || undefined,
      parameterList: list,
    });
    list.$parent = operator;
    operator.$parent = container;
    const kept = container.values.filter((value) => value !== existing);
    commands.push(update(element, container, { values: [...kept, operator] }));
  }
  run(commandStack, commands);
}

/** Sets one parameter of the task's operator ('' removes it). */
export function setParameter(element, name, type, value, { bpmnFactory, commandStack }) {
  const operator = operatorOf(element);
  if (!operator) return;
  const commands = [];
  let list = operator.parameterList;
  if (!list) {
    list = bpmnFactory.create('spiffworkflow:Parameters', { parameters: [] });
    list.$parent = operator;
    commands.push(update(element, operator, { parameterList: list }));
  }
  const existing = parameterOf(operator, name);
  if (!value) {
    if (existing) {
      commands.push(
        update(element, list, { parameters: list.parameters.filter((parameter) => parameter !== existing) }),
      );
    }
  } else if (existing) {
    commands.push(update(element, existing, { value }));
  } else {
    const parameter = bpmnFactory.create('spiffworkflow:Parameter', { id: name, type, value });
    parameter.$parent = list;
    commands.push(update(element, list, { parameters: [...list.parameters, parameter] }));
  }
  run(commandStack, commands);
}

export function setAttributes(element, moddleElement, properties, { commandStack }) {
  run(commandStack, [update(element, moddleElement, properties)]);
}

/** "'address-lookup'" or '"x"' → the text inside the quotes; anything else → null (an expression). */
export function literalOf(expression) {
  const match = /^\s*(['"])([^'"\\]*)\1\s*$/.exec(expression || '');
  return match ? match[2] : null;
}

/** A Python string literal holding ``text``. */
export function quoted(text) {
  return JSON.stringify(text);
}
