// The entries of the Signpost groups (preact components of the properties panel). Values are stored as
// Signpost reads them: parameters, conditions and scripts are Python; a topic is a quoted literal.

import { h } from '@bpmn-io/properties-panel/preact';
import { SelectEntry, TextFieldEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

import { describeTimer } from '../durations.js';
import { codeEntry } from './code-entry.js';
import {
  EXTERNAL,
  ROUTE,
  bodyOf,
  literalOf,
  operatorOf,
  parameterOf,
  quoted,
  setAttributes,
  setBody,
  setOperator,
  setParameter,
} from './extensions.js';

const EXPRESSION = '__expression';

function useEditing() {
  return {
    bpmnFactory: useService('bpmnFactory'),
    commandStack: useService('commandStack'),
    debounce: useService('debounceInput'),
  };
}

function directory() {
  return useService('config').signpost?.services || [];
}

// ---- service tasks ------------------------------------------------------------------------------------------

/** 'route', 'external', another operator's id, or '' for a service task that does nothing yet. */
export function serviceKind(element) {
  const businessObject = getBusinessObject(element);
  if (businessObject.get('camunda:type') === 'external') return 'external';
  const operator = operatorOf(element);
  if (!operator) return '';
  if (operator.id === ROUTE) return 'route';
  if (operator.id === EXTERNAL) return 'external';
  return operator.id || '';
}

export function ServiceKindEntry({ element, id }) {
  const editing = useEditing();
  const kind = serviceKind(element);
  const options = [
    { value: '', label: 'Not set yet' },
    { value: 'route', label: 'Route the referral to a service' },
    { value: 'external', label: 'Wait for an external worker (a topic)' },
  ];
  if (kind && !['route', 'external'].includes(kind)) options.push({ value: kind, label: `Calls ${kind}` });
  return h(SelectEntry, {
    element,
    id,
    label: 'Kind',
    getValue: () => kind,
    getOptions: () => options,
    setValue: (value) => {
      if (value === 'route') setOperator(element, ROUTE, {}, editing, 'handoff');
      else if (value === 'external') setOperator(element, EXTERNAL, {}, editing);
      else setOperator(element, '', {}, editing);
    },
  });
}

function parameterText(element, name) {
  return parameterOf(operatorOf(element), name)?.value || '';
}

export function ServiceChoiceEntry({ element, id }) {
  const editing = useEditing();
  const services = directory();
  const current = parameterText(element, 'service');
  const literal = literalOf(current);
  return h(SelectEntry, {
    element,
    id,
    label: 'Target service',
    description: services.length
      ? 'From the service directory; choose “chosen from the referral’s data” to name it with an expression.'
      : 'The service directory could not be read: write the service as an expression below.',
    getValue: () => (literal !== null ? literal : current ? EXPRESSION : ''),
    getOptions: () => [
      { value: '', label: 'Choose a service…' },
      ...services.map((service) => ({ value: service.id, label: `${service.name} (${service.id})` })),
      ...(literal !== null && !services.some((service) => service.id === literal)
        ? [{ value: literal, label: `${literal} (not in the directory)` }]
        : []),
      { value: EXPRESSION, label: 'Chosen from the referral’s data (expression)' },
    ],
    setValue: (value) => {
      if (value === EXPRESSION) {
        if (literal !== null || !current) setParameter(element, 'service', 'str', 'service_id', editing);
      } else {
        setParameter(element, 'service', 'str', value ? quoted(value) : '', editing);
      }
    },
  });
}

function expressionEntry(element, id, name, label, description, editing) {
  return h(TextFieldEntry, {
    element,
    id,
    label,
    description,
    debounce: editing.debounce,
    getValue: () => parameterText(element, name),
    setValue: (value) => setParameter(element, name, 'str', (value || '').trim(), editing),
  });
}

export function ServiceEntry({ element, id }) {
  return expressionEntry(
    element,
    id,
    'service',
    'Service (Python expression)',
    'A service id in quotes, or a name the pathway set earlier (such as locality_team).',
    useEditing(),
  );
}

export function ReferralTypeChoiceEntry({ element, id }) {
  const editing = useEditing();
  const serviceId = literalOf(parameterText(element, 'service'));
  const service = directory().find((each) => each.id === serviceId);
  const current = parameterText(element, 'referral_type');
  const literal = literalOf(current);
  const accepted = service?.accepts || [];
  return h(SelectEntry, {
    element,
    id,
    label: 'Referral type',
    description: service
      ? `The referral types ${service.name} accepts.`
      : 'Choose a service from the directory to pick from the types it accepts.',
    getValue: () => (literal !== null ? literal : current ? EXPRESSION : ''),
    getOptions: () => [
      { value: '', label: 'Choose a referral type…' },
      ...accepted.map((type) => ({ value: type, label: type })),
      ...(literal !== null && !accepted.includes(literal)
        ? [{ value: literal, label: service ? `${literal} (not accepted by this service)` : literal }]
        : []),
      { value: EXPRESSION, label: 'From the referral’s data (expression)' },
    ],
    setValue: (value) => {
      if (value === EXPRESSION) return;
      setParameter(element, 'referral_type', 'str', value ? quoted(value) : '', editing);
    },
  });
}

export function ReferralTypeEntry({ element, id }) {
  return expressionEntry(
    element,
    id,
    'referral_type',
    'Referral type (Python expression)',
    'One of the types the service accepts, in quotes.',
    useEditing(),
  );
}

export function ReasonEntry({ element, id }) {
  return expressionEntry(
    element,
    id,
    'reason',
    'Reason (Python expression)',
    'What the receiving service reads, e.g. "Community nursing referral, priority " + priority',
    useEditing(),
  );
}

export function ResultVariableEntry({ element, id }) {
  const editing = useEditing();
  const operator = operatorOf(element);
  return h(TextFieldEntry, {
    element,
    id,
    label: 'Hand-off id goes into',
    description: 'The name the pathway reads the new hand-off’s id from.',
    debounce: editing.debounce,
    getValue: () => operator?.resultVariable || '',
    setValue: (value) => setAttributes(element, operator, { resultVariable: value || undefined }, editing),
  });
}

export function TopicEntry({ element, id }) {
  const editing = useEditing();
  const businessObject = getBusinessObject(element);
  const camunda = businessObject.get('camunda:type') === 'external';
  return h(TextFieldEntry, {
    element,
    id,
    label: 'Topic',
    description: 'Workers of the organisation operating the referral fetch the tasks of this topic.',
    debounce: editing.debounce,
    getValue: () =>
      camunda ? businessObject.get('camunda:topic') || '' : literalOf(parameterText(element, 'topic')) || '',
    setValue: (value) => {
      const topic = (value || '').trim();
      if (camunda) setAttributes(element, businessObject, { 'camunda:topic': topic || undefined }, editing);
      else setParameter(element, 'topic', 'str', topic ? `'${topic.replaceAll("'", '')}'` : '', editing);
    },
  });
}

// ---- conditions, scripts, timers ------------------------------------------------------------------------------

export function ConditionEntry({ element, id }) {
  const editing = useEditing();
  const businessObject = getBusinessObject(element);
  const isDefault = businessObject.sourceRef?.default === businessObject;
  return codeEntry('expression', {
    element,
    id,
    label: 'Taken when (Python expression)',
    description: isDefault
      ? 'This is the gateway’s default flow: it is taken when no other condition holds.'
      : 'For example: len(missing_fields) > 0',
    rows: 2,
    debounce: editing.debounce,
    getValue: () => businessObject.conditionExpression?.body || '',
    setValue: (value) => {
      const text = (value || '').trim();
      let expression;
      if (text) {
        expression = editing.bpmnFactory.create('bpmn:FormalExpression', { body: text });
        expression.$parent = businessObject;
      }
      setAttributes(element, businessObject, { conditionExpression: expression }, editing);
    },
  });
}

export function ScriptEntry({ element, id }) {
  const editing = useEditing();
  const businessObject = getBusinessObject(element);
  return codeEntry('script', {
    element,
    id,
    label: 'Python script',
    description: 'Plain statements on the referral’s data: no imports, no names starting with _.',
    rows: 5,
    debounce: editing.debounce,
    getValue: () => businessObject.script || '',
    setValue: (value) =>
      setAttributes(element, businessObject, { script: value || undefined, scriptFormat: 'python' }, editing),
  });
}

function scriptExtensionEntry(element, id, type, label, description, editing) {
  return codeEntry('script', {
    element,
    id,
    label,
    description,
    rows: 3,
    debounce: editing.debounce,
    getValue: () => bodyOf(element, type),
    setValue: (value) => setBody(element, type, value, editing),
  });
}

export function PreScriptEntry({ element, id }) {
  return scriptExtensionEntry(
    element,
    id,
    'spiffworkflow:PreScript',
    'Before the task (pre-script)',
    'Runs as the task starts, e.g. acceptance_due = "PT2H" if priority == "urgent" else "P1D"',
    useEditing(),
  );
}

export function PostScriptEntry({ element, id }) {
  return scriptExtensionEntry(
    element,
    id,
    'spiffworkflow:PostScript',
    'After the task (post-script)',
    'Runs when the task is done.',
    useEditing(),
  );
}

/** The selected timer in plain words, under the standard timer fields. */
export function TimerPreviewEntry({ element }) {
  const definition = (getBusinessObject(element).eventDefinitions || []).find((each) =>
    each.$instanceOf('bpmn:TimerEventDefinition'),
  );
  if (!definition) return null;
  const kind = definition.timeDate ? 'date' : definition.timeCycle ? 'cycle' : 'duration';
  const expression = definition.timeDate || definition.timeCycle || definition.timeDuration;
  return h(
    'div',
    { class: 'bio-properties-panel-entry signpost-timer-preview', 'data-entry-id': 'signpost-timer-preview' },
    h('p', { class: 'signpost-preview-label' }, 'In plain words'),
    h('p', { class: 'signpost-preview', 'aria-live': 'polite' }, describeTimer(expression?.body, kind)),
  );
}
