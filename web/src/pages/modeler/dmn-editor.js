// dmn-js's modeler for the decision tables a pathway's business rule tasks call.

import DmnModeler from 'dmn-js/lib/Modeler';

export class DmnEditor {
  constructor({ canvas, onChange }) {
    this.modeler = new DmnModeler({ container: canvas });
    this.onChange = onChange;
    // Each view (the decision requirements diagram, each table) has its own command stack.
    this.modeler.on('views.changed', () => {
      const viewer = this.modeler.getActiveViewer();
      if (viewer && !viewer.__signpostWatched) {
        viewer.__signpostWatched = true;
        viewer.get('eventBus').on('commandStack.changed', () => this.onChange());
      }
    });
  }

  async open(xml) {
    const { warnings } = await this.modeler.importXML(xml);
    // A decision table is what designers edit most: open the first one rather than the overview.
    const table = this.modeler.getViews().find((view) => view.type === 'decisionTable');
    if (table) await this.modeler.open(table);
    return warnings || [];
  }

  async save() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  /** Opens the view holding ``elementId`` (a decision, or a rule inside one); false if none does. */
  async reveal(elementId) {
    for (const view of this.modeler.getViews()) {
      if (idsIn(view.element).has(elementId)) {
        await this.modeler.open(view);
        return true;
      }
    }
    return false;
  }

  destroy() {
    this.modeler.destroy();
  }
}

/** The ids of a decision and of its table's inputs, rules and cells. */
function idsIn(decision) {
  const ids = new Set([decision.id]);
  const table = decision.decisionLogic || {};
  for (const input of table.input || []) ids.add(input.id);
  for (const rule of table.rule || []) {
    ids.add(rule.id);
    for (const entry of [...(rule.inputEntry || []), ...(rule.outputEntry || [])]) ids.add(entry.id);
  }
  return ids;
}
