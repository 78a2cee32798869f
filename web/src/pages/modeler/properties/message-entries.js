// The message a receive task or a message event waits for or sends: its name, picked from the messages the
// engine sends a pathway when a service acts on its hand-off (engine/routing/transitions.py) or written, and
// the correlation — a Python expression on the message's data whose value must match the instance's, stored
// as a BPMN correlation property (what SpiffWorkflow reads, and the deploy checks check).

import { h } from '@bpmn-io/properties-panel/preact';
import { SelectEntry, TextFieldEntry } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import { codeEntry } from './code-entry.js';

// The messages Signpost itself sends a waiting pathway: a service's action on a hand-off, the referrer's
// answer to a request for information, the referrer's cancellation.
export const HANDOFF_MESSAGES = [
  ['handoff.acknowledged', 'The service acknowledged the hand-off'],
  ['handoff.accepted', 'The service accepted the hand-off'],
  ['handoff.rejected', 'The service rejected the hand-off'],
  ['handoff.information_requested', 'The service asked the referrer for information'],
  ['handoff.information_supplied', 'The referrer supplied the information asked for'],
  ['handoff.scheduled', 'The service scheduled the work'],
  ['handoff.started', 'The service started the work'],
  ['handoff.completed', 'The service completed the work'],
  ['handoff.transferred', 'The service transferred the hand-off to another service'],
  ['referral.cancelled', 'The referrer cancelled the referral'],
];
const OTHER = '__other';

/** Whether ``element`` waits for or sends a message (a receive or send task, a message event). */
export function hasMessage(element) {
  if (is(element, 'bpmn:ReceiveTask') || is(element, 'bpmn:SendTask')) return true;
  return Boolean(messageDefinition(element));
}

function messageDefinition(element) {
  return (getBusinessObject(element).eventDefinitions || []).find((each) =>
    is(each, 'bpmn:MessageEventDefinition'),
  );
}

/** The moddle element holding ``messageRef``: the task itself or its message event definition. */
function holderOf(element) {
  return messageDefinition(element) || getBusinessObject(element);
}

function definitionsOf(element) {
  let node = getBusinessObject(element);
  while (node.$parent) node = node.$parent;
  return node;
}

function messagesOf(definitions) {
  return (definitions.rootElements || []).filter((each) => is(each, 'bpmn:Message'));
}

function useMessageEditing(element) {
  return {
    bpmnFactory: useService('bpmnFactory'),
    commandStack: useService('commandStack'),
    debounce: useService('debounceInput'),
    definitions: definitionsOf(element),
    holder: holderOf(element),
  };
}

function run(commandStack, commands) {
  if (commands.length) commandStack.execute('properties-panel.multi-command-executor', commands);
}

function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

/** Makes the element's message the one named ``name``: an existing message of that name, the element's own
 * message renamed when nothing else uses it, or a new message. */
function setMessageName(element, name, { bpmnFactory, commandStack, definitions, holder }) {
  const text = (name || '').trim();
  const current = holder.messageRef;
  if (!text) {
    run(commandStack, [update(element, holder, { messageRef: undefined })]);
    return;
  }
  if (current?.name === text) return;
  const existing = messagesOf(definitions).find((message) => message.name === text);
  if (existing) {
    run(commandStack, [update(element, holder, { messageRef: existing })]);
    return;
  }
  if (current && !usedElsewhere(definitions, current, holder)) {
    run(commandStack, [update(element, current, { name: text })]);
    return;
  }
  const message = bpmnFactory.create('bpmn:Message', { name: text });
  message.$parent = definitions;
  run(commandStack, [
    update(element, definitions, { rootElements: [...(definitions.rootElements || []), message] }),
    update(element, holder, { messageRef: message }),
  ]);
}

function usedElsewhere(definitions, message, holder) {
  let used = false;
  const visit = (node) => {
    if (!node || typeof node !== 'object' || used) return;
    if (node !== holder && node.messageRef === message) used = true;
    for (const child of [...(node.flowElements || []), ...(node.eventDefinitions || []), ...(node.messageFlows || [])]) {
      visit(child);
    }
  };
  for (const root of definitions.rootElements || []) visit(root);
  return used;
}

export function MessageChoiceEntry({ element, id }) {
  const editing = useMessageEditing(element);
  const current = editing.holder.messageRef?.name || '';
  const known = new Map(HANDOFF_MESSAGES);
  for (const message of messagesOf(editing.definitions)) {
    if (message.name && !known.has(message.name)) known.set(message.name, 'A message of this diagram');
  }
  return h(SelectEntry, {
    element,
    id,
    label: 'Message',
    description: 'The hand-off messages Signpost sends when a service acts, or another name written below.',
    getValue: () => (current && known.has(current) ? current : current ? OTHER : ''),
    getOptions: () => [
      { value: '', label: 'Choose a message…' },
      ...[...known].map(([name, meaning]) => ({ value: name, label: `${name} — ${meaning}` })),
      { value: OTHER, label: 'Another name (write it below)' },
    ],
    setValue: (value) => {
      if (value !== OTHER) setMessageName(element, value, editing);
    },
  });
}

export function MessageNameEntry({ element, id }) {
  const editing = useMessageEditing(element);
  return h(TextFieldEntry, {
    element,
    id,
    label: 'Message name',
    description: 'Messages sent with POST /api/v1/messages are caught by this name.',
    debounce: editing.debounce,
    getValue: () => editing.holder.messageRef?.name || '',
    setValue: (value) => setMessageName(element, value, editing),
  });
}

// ---- correlation ------------------------------------------------------------------------------------------------

/** [correlation property, its retrieval expression] for ``message``, or []. */
function correlationOf(definitions, message) {
  for (const property of (definitions.rootElements || []).filter((each) => is(each, 'bpmn:CorrelationProperty'))) {
    const expression = (property.correlationPropertyRetrievalExpression || []).find(
      (each) => each.messageRef === message,
    );
    if (expression) return [property, expression];
  }
  return [];
}

function setCorrelation(element, text, { bpmnFactory, commandStack, definitions, holder }) {
  const message = holder.messageRef;
  if (!message) return;
  const body = (text || '').trim();
  const [property, expression] = correlationOf(definitions, message);
  const commands = [];
  if (!body) {
    if (property) {
      const kept = property.correlationPropertyRetrievalExpression.filter((each) => each !== expression);
      commands.push(
        kept.length
          ? update(element, property, { correlationPropertyRetrievalExpression: kept })
          : update(element, definitions, {
              rootElements: definitions.rootElements.filter((each) => each !== property),
            }),
      );
    }
  } else if (expression) {
    commands.push(update(element, expression.messagePath, { body }));
  } else {
    const path = bpmnFactory.create('bpmn:FormalExpression', { body });
    const retrieval = bpmnFactory.create('bpmn:CorrelationPropertyRetrievalExpression', {
      messageRef: message,
      messagePath: path,
    });
    path.$parent = retrieval;
    const created = bpmnFactory.create('bpmn:CorrelationProperty', {
      name: `correlation of ${message.name || message.id}`,
      correlationPropertyRetrievalExpression: [retrieval],
    });
    retrieval.$parent = created;
    created.$parent = definitions;
    commands.push(update(element, definitions, { rootElements: [...definitions.rootElements, created] }));
  }
  run(commandStack, commands);
}

export function CorrelationEntry({ element, id }) {
  const editing = useMessageEditing(element);
  const message = editing.holder.messageRef;
  if (!message) return null;
  return codeEntry('expression', {
    element,
    id,
    label: 'Correlation (Python expression on the message’s data)',
    description:
      'Its value in the message must match the referral’s for the message to be caught, e.g. case_id. ' +
      'Empty: the message is delivered to the referral it names.',
    rows: 1,
    debounce: editing.debounce,
    getValue: () => correlationOf(editing.definitions, message)[1]?.messagePath?.body || '',
    setValue: (value) => setCorrelation(element, value, editing),
  });
}
