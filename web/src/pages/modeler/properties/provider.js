// The properties panel's Signpost groups: what a service task does (route to a service from the directory,
// or an external worker's topic), who works on a user task and its form, the message an event or a receive
// task waits for and its correlation, conditions and scripts (checked as they are typed), timers in plain
// words, and the checks — bpmnlint's and the server's — of the selected element.

import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { Group } from '@bpmn-io/properties-panel';

import { ChecksEntry } from './checks-entry.js';
import {
  ConditionEntry,
  PostScriptEntry,
  PreScriptEntry,
  ReasonEntry,
  ReferralTypeChoiceEntry,
  ReferralTypeEntry,
  ResultVariableEntry,
  ScriptEntry,
  ServiceChoiceEntry,
  ServiceEntry,
  ServiceKindEntry,
  TimerPreviewEntry,
  TopicEntry,
  serviceKind,
} from './entries.js';
import { CorrelationEntry, MessageChoiceEntry, MessageNameEntry, hasMessage } from './message-entries.js';
import { FormEntry, LaneEntry, OpenFormEntry } from './user-task-entries.js';

const LOW_PRIORITY = 400; // after the standard groups, so that ours can adjust theirs

export default class SignpostPropertiesProvider {
  constructor(propertiesPanel) {
    propertiesPanel.registerProvider(LOW_PRIORITY, this);
  }

  getGroups(element) {
    return (groups) => {
      const timer = groups.find((group) => group.id === 'timer');
      if (timer) {
        timer.shouldOpen = true;
        timer.entries.push({ id: 'signpost-timer-preview', component: TimerPreviewEntry });
      }
      return [checksGroup(element), ...groups, ...signpostGroups(element)].filter(Boolean);
    };
  }
}

SignpostPropertiesProvider.$inject = ['propertiesPanel'];

function checksGroup(element) {
  return {
    id: 'signpost-checks',
    label: 'Checks',
    component: Group,
    shouldOpen: true,
    entries: [{ id: 'signpost-checks-list', component: ChecksEntry, element }],
  };
}

function signpostGroups(element) {
  const groups = [];
  if (is(element, 'bpmn:ServiceTask')) {
    groups.push(group('signpost-service-task', 'What this task does', serviceTaskEntries(element)));
  }
  if (is(element, 'bpmn:UserTask')) {
    groups.push(
      group('signpost-user-task', 'Who works on it, and the form', [
        { id: 'signpost-lane', component: LaneEntry },
        { id: 'signpost-form', component: FormEntry },
        { id: 'signpost-open-form', component: OpenFormEntry },
      ]),
    );
  }
  if (hasMessage(element)) {
    groups.push(
      group('signpost-message', 'Message', [
        { id: 'signpost-message-choice', component: MessageChoiceEntry },
        { id: 'signpost-message-name', component: MessageNameEntry },
        { id: 'signpost-correlation', component: CorrelationEntry },
      ]),
    );
  }
  if (is(element, 'bpmn:SequenceFlow') && conditionApplies(element)) {
    groups.push(group('signpost-condition', 'Condition', [{ id: 'signpost-condition', component: ConditionEntry }]));
  }
  if (is(element, 'bpmn:ScriptTask')) {
    groups.push(group('signpost-script', 'Script', [{ id: 'signpost-script', component: ScriptEntry }]));
  }
  if (is(element, 'bpmn:Activity') && !is(element, 'bpmn:SubProcess')) {
    const scripts = [
      { id: 'signpost-pre-script', component: PreScriptEntry },
      { id: 'signpost-post-script', component: PostScriptEntry },
    ];
    groups.push(group('signpost-scripts', 'Scripts before and after', scripts, false));
  }
  return groups;
}

function group(id, label, entries, shouldOpen = true) {
  return { id, label, component: Group, shouldOpen, entries };
}

function serviceTaskEntries(element) {
  const entries = [{ id: 'signpost-service-kind', component: ServiceKindEntry }];
  const kind = serviceKind(element);
  if (kind === 'route') {
    entries.push(
      { id: 'signpost-route-service-choice', component: ServiceChoiceEntry },
      { id: 'signpost-route-service', component: ServiceEntry },
      { id: 'signpost-route-referral-type-choice', component: ReferralTypeChoiceEntry },
      { id: 'signpost-route-referral_type', component: ReferralTypeEntry },
      { id: 'signpost-route-reason', component: ReasonEntry },
      { id: 'signpost-route-result', component: ResultVariableEntry },
    );
  } else if (kind === 'external') {
    entries.push({ id: 'signpost-topic', component: TopicEntry });
  }
  return entries;
}

/** Conditions belong on flows leaving a gateway (the server refuses them on flows leaving a task). */
function conditionApplies(flow) {
  const source = getBusinessObject(flow).sourceRef;
  return is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway');
}
