// The selected element's checks in the properties panel: what the server refuses and what bpmnlint says.

import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect, useState } from '@bpmn-io/properties-panel/preact/hooks';
import { useService } from 'bpmn-js-properties-panel';

export function ChecksEntry({ element }) {
  const checks = useService('signpostChecks');
  const eventBus = useService('eventBus');
  const [, setVersion] = useState(0);
  useEffect(() => {
    const changed = () => setVersion((version) => version + 1);
    eventBus.on('signpost.checks.changed', changed);
    return () => eventBus.off('signpost.checks.changed', changed);
  }, [eventBus]);
  const found = checks.about(element);
  const state = checks.server.state;
  let summary;
  if (found.length) summary = null;
  else if (state === 'checking') summary = 'The server is checking the diagram…';
  else if (state === 'unavailable') summary = 'The server’s check is not available; bpmnlint finds nothing here.';
  else summary = 'Nothing to fix here.';
  return h(
    'div',
    { class: 'bio-properties-panel-entry signpost-checks', 'data-entry-id': 'signpost-checks-list' },
    summary
      ? h('p', { class: 'signpost-checks-none' }, summary)
      : h(
          'ul',
          { class: 'signpost-checks-list' },
          found.map((item) =>
            h(
              'li',
              { class: `signpost-check ${item.severity}` },
              h('span', { class: 'signpost-check-source' }, item.source === 'server' ? 'Server: ' : 'bpmnlint: '),
              item.message,
            ),
          ),
        ),
  );
}
