// Timer expressions in plain words: "PT48H" → "48 hours". A timer's text is either bare ISO 8601 (as
// Camunda Modeler writes it) or a Python expression (Signpost's own form: '"PT48H"', or a variable the
// pathway set before the timer starts waiting, such as acceptance_due).

const UNITS = [
  ['Y', 'year'],
  ['M', 'month'],
  ['W', 'week'],
  ['D', 'day'],
];
const TIME_UNITS = [
  ['H', 'hour'],
  ['M', 'minute'],
  ['S', 'second'],
];
const DURATION = /^P(?!$)((\d+(?:[.,]\d+)?[YMWD])*)(T((\d+(?:[.,]\d+)?[HMS])+))?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const CYCLE = /^R(\d*)\/(.+)$/;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;

const dateFormat = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'full',
  timeStyle: 'short',
  timeZone: 'UTC',
});

/** What ``text`` means as a timer of ``kind`` ('duration', 'date' or 'cycle'), in a sentence. */
export function describeTimer(text, kind = 'duration') {
  const source = (text || '').trim();
  if (!source) return 'No time set yet: the server refuses a timer without one.';
  const literal = unquote(source);
  if (literal === null) {
    if (IDENTIFIER.test(source)) return `Computed when the timer starts waiting: the value of ${source}.`;
    return 'Computed when the timer starts waiting, from the expression above.';
  }
  const described = describeLiteral(literal, kind);
  return described ?? `“${literal}” is not an ISO 8601 ${kind === 'date' ? 'date' : 'duration'}.`;
}

function describeLiteral(literal, kind) {
  const cycle = CYCLE.exec(literal);
  if (cycle) {
    const period = describeDuration(cycle[2]);
    if (!period) return null;
    const every = /^1 [a-z]+$/.test(period) ? period.slice(2) : period; // "every hour", not "every 1 hour"

    const times = cycle[1] ? `${cycle[1]} ${cycle[1] === '1' ? 'time' : 'times'}` : 'without end';
    return `Every ${every}, ${times}.`;
  }
  if (DATE_TIME.test(literal)) {
    const when = new Date(literal);
    if (Number.isNaN(when.getTime())) return null;
    const zone = /(Z|[+-]\d{2}:?\d{2})$/.test(literal) ? '' : ' (no offset: read in the server’s zone)';
    return `At ${dateFormat.format(when)} UTC${zone}.`;
  }
  const duration = describeDuration(literal);
  if (!duration) return null;
  return kind === 'cycle' ? `Every ${duration}.` : `After ${duration}.`;
}

/** "P1DT2H30M" → "1 day, 2 hours and 30 minutes"; null when it is not a duration. */
export function describeDuration(text) {
  const match = DURATION.exec(text.toUpperCase());
  if (!match) return null;
  const [datePart, timePart] = [match[1] || '', match[4] || ''];
  const parts = [...amounts(datePart, UNITS), ...amounts(timePart, TIME_UNITS)];
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

function amounts(text, units) {
  const found = [];
  for (const [letter, name] of units) {
    const match = new RegExp(`(\\d+(?:[.,]\\d+)?)${letter}`).exec(text);
    if (match) {
      const number = Number(match[1].replace(',', '.'));
      found.push(`${match[1].replace(',', '.')} ${name}${number === 1 ? '' : 's'}`);
    }
  }
  return found;
}

/** The text inside one pair of quotes ('"PT48H"' → 'PT48H'), the bare ISO text itself, or null. */
function unquote(source) {
  const quoted = /^(['"])([^'"]*)\1$/.exec(source);
  if (quoted) return quoted[2];
  if (/^(R\d*\/)?P/.test(source) || /^\d{4}-\d{2}-\d{2}/.test(source)) return source;
  return null;
}
