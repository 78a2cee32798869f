// A condition or script field that says, as the designer types, what the server's deploy checks would refuse
// in it: POST /api/v1/definitions/check-code runs the very checks of a deployment on the text (never the
// code itself) and answers with the line and column. The sentence is under the field, read out politely, and
// the field is marked invalid until the code is fixed.

import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect, useMemo, useRef, useState } from '@bpmn-io/properties-panel/preact/hooks';
import { TextAreaEntry } from '@bpmn-io/properties-panel';

import { api } from '../../../app/api.js';
import { debounce } from '../../../app/dom.js';

const CHECK_DELAY_MS = 300; // after the last key press

/**
 * ``kind``: 'expression' or 'script'; ``entry``: the TextAreaEntry's props (element, id, label, getValue,
 * setValue…).
 */
export function CodeEntry({ kind, entry }) {
  const { element, id } = entry;
  const [problem, setProblem] = useState(null);
  const wrapper = useRef(null);
  const problemId = `${id}-problem`;
  const check = useMemo(() => {
    let asked = 0;
    let controller = null;
    return debounce(async (code) => {
      const number = ++asked;
      controller?.abort();
      controller = new AbortController();
      if (!code || !code.trim()) {
        setProblem(null);
        return;
      }
      try {
        const answer = await api('/api/v1/definitions/check-code', {
          method: 'POST',
          json: { code, kind },
          signal: controller.signal,
        });
        if (number === asked) setProblem(answer.problems[0] || null);
      } catch (error) {
        // Not checked (offline, signed out, aborted by a newer check): say nothing rather than guess; the
        // server's check of the whole diagram still runs.
        if (number === asked && error.name !== 'AbortError') setProblem(null);
      }
    }, CHECK_DELAY_MS);
  }, [kind]);

  // The value already there when the element is selected is checked too, then every change typed.
  useEffect(() => {
    check(entry.getValue(element));
    return () => check.cancel();
  }, [element, check]);

  useEffect(() => {
    const field = wrapper.current?.querySelector('textarea, input');
    if (!field) return;
    field.setAttribute('aria-invalid', problem ? 'true' : 'false');
    const described = (field.getAttribute('aria-describedby') || '').split(' ').filter((each) => each && each !== problemId);
    if (problem) described.push(problemId);
    if (described.length) field.setAttribute('aria-describedby', described.join(' '));
    else field.removeAttribute('aria-describedby');
  }, [problem, problemId]);

  return h(
    'div',
    {
      ref: wrapper,
      class: `signpost-code${problem ? ' has-problem' : ''}`,
      onInput: (event) => check(event.target.value),
    },
    h(TextAreaEntry, { monospace: true, ...entry }),
    h('p', { id: problemId, class: 'signpost-code-problem', 'aria-live': 'polite' }, problem ? describe(problem) : ''),
  );
}

/** A text area for Python code, with the deploy checks' verdict on it as the designer types. */
export function codeEntry(kind, entry) {
  return h(CodeEntry, { kind, entry });
}

function describe({ line, column, message }) {
  const where = line ? `Line ${line}${column ? `, column ${column}` : ''}: ` : '';
  return `${where}${message}`;
}
