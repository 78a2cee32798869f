// What happens next on a referral, from its OLA clocks: the earliest obligation still running, who owes it
// and by when, with a red/amber/green state a reader does not need colour to understand.

import { formatWhen } from '../../app/dom.js';

const OBLIGATIONS = {
  acknowledge: 'acknowledge the referral',
  'accept-or-reject': 'accept or decline the referral',
  'supply-information': 'send the information asked for',
  'first-contact': 'make first contact',
};

export function describeObligation(name) {
  return OBLIGATIONS[name] || name.replaceAll('-', ' ');
}

/** The next step: { text, state: 'breached' | 'at-risk' | 'on-track', clock }, or null when none is owed. */
export function nextStep(referral, now = Date.now()) {
  const open = (referral.clocks || [])
    .filter((clock) => !clock.stopped_at && clock.state !== 'paused')
    .sort((a, b) => String(a.due_at).localeCompare(String(b.due_at)));
  const clock = open[0];
  if (!clock) return null;
  const state = clockState(clock, now);
  const due = clock.due_at ? formatWhen(clock.due_at) : 'no time set';
  const owner = clock.owed_by.charAt(0).toUpperCase() + clock.owed_by.slice(1);
  const late = state === 'breached' ? ' (overdue)' : '';
  return { text: `${owner} to ${describeObligation(clock.obligation)} by ${due}${late}`, state, clock };
}

// Breached once past due; at risk in the last quarter of its target (business time, as the server counts).
export function clockState(clock, now = Date.now()) {
  if (clock.state === 'breached' || (clock.due_at && Date.parse(clock.due_at) <= now)) return 'breached';
  if (clock.state === 'met') return 'met';
  if (clock.business_seconds_remaining <= clock.target_seconds / 4) return 'at-risk';
  return 'on-track';
}
