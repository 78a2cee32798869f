// form-js's editor for a user task's form (a `<name>.form.json` file of the workspace): palette, form and
// its properties panel, as in Camunda Modeler. Signpost checks the schema when it is deployed
// (engine/pathways/form_schema.py) and the data completing the task against it.

import { FormEditor as FormJsEditor } from '@bpmn-io/form-js';

export class FormEditor {
  constructor({ canvas, onChange }) {
    this.editor = new FormJsEditor({
      container: canvas,
      exporter: { name: 'Signpost studio', version: '0.1.0' },
    });
    this.editor.on('changed', () => onChange());
  }

  /** Opens ``json``; rejects with a readable error (nothing changes) when it is not a form-js schema. */
  async open(json) {
    let schema;
    try {
      schema = JSON.parse(json);
    } catch (error) {
      throw new Error(`it is not JSON (${error.message})`);
    }
    const { warnings } = await this.editor.importSchema(schema);
    labelControls(this.editor._container);
    return warnings || [];
  }

  async save() {
    return `${JSON.stringify(this.editor.saveSchema(), null, 2)}\n`;
  }

  /** A form has no elements the checks name. */
  reveal() {
    return false;
  }

  destroy() {
    this.editor.destroy();
  }
}

/** Names the palette's search field, which form-js marks with a placeholder only. */
function labelControls(container) {
  container.querySelector('.fjs-palette-search')?.setAttribute('aria-label', 'Search components');
}
