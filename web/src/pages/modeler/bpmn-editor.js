// bpmn-js's modeler with the properties panel (standard groups and Signpost's), bpmnlint's recommended rules
// compiled into the bundle (web/.bpmnlintrc), and the moddle extensions for Signpost's and Camunda's
// attributes, so that files saved by Camunda Modeler open and keep what they say.

import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import lintModule from 'bpmn-js-bpmnlint';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';

import lintConfig from '../../../.bpmnlintrc';
import signpostModdle from './signpost-moddle.json';
import signpostProperties from './properties/index.js';

export class BpmnEditor {
  /** ``forms``: { names(), create(name, title), open(name) }, the workspace's task forms for user tasks. */
  constructor({ canvas, properties, services, forms, onChange }) {
    this.modeler = new BpmnModeler({
      container: canvas,
      propertiesPanel: { parent: properties },
      additionalModules: [
        BpmnPropertiesPanelModule,
        BpmnPropertiesProviderModule,
        lintModule,
        signpostProperties,
      ],
      moddleExtensions: { camunda: camundaModdle, spiffworkflow: signpostModdle },
      linting: { bpmnlint: lintConfig, active: true },
      signpost: { services, forms },
    });
    this.modeler.on('commandStack.changed', () => onChange());
  }

  get checks() {
    return this.modeler.get('signpostChecks');
  }

  /** Opens ``xml``; resolves to the import's warnings, rejects with a readable error (nothing changes). */
  async open(xml) {
    const { warnings } = await this.modeler.importXML(xml);
    this.modeler.get('canvas').zoom('fit-viewport', 'auto');
    return warnings || [];
  }

  async save() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  /** The id of the diagram's (first) process: a new diagram's file is named after it. */
  processId() {
    const definitions = this.modeler.getDefinitions();
    const process = (definitions?.rootElements || []).find((element) => element.$type === 'bpmn:Process');
    return process?.id || null;
  }

  /** Selects the element and brings it into view; false when the diagram has no such element. */
  reveal(elementId) {
    const element = this.modeler.get('elementRegistry').get(elementId);
    if (!element) return false;
    this.modeler.get('selection').select(element);
    if (element.waypoints || element.width) this.modeler.get('canvas').scrollToElement(element);
    return true;
  }

  destroy() {
    this.modeler.destroy();
  }
}
