// The modeler: open a version from the library, start a new diagram or import files from disk (Camunda
// Modeler's included), edit BPMN with bpmn-js, DMN with dmn-js and user tasks' forms with form-js, see
// bpmnlint's and the server's checks while drawing, download the files, and deploy them as a new version.

import { ApiError, SessionEnded, api, describe } from '../../app/api.js';
import { debounce, download, fieldOf, formatWhen, h } from '../../app/dom.js';
import { session } from '../../app/session.js';
import { ChecksPanel } from './checks/checks-panel.js';
import { ScenariosPanel } from './scenarios/scenarios-panel.js';
import { deploy, validate } from './checks/dry-run.js';
import { DIAGRAM_KINDS, Workspace } from './workspace.js';

const DOWNLOAD_TYPES = { bpmn: 'application/bpmn+xml', dmn: 'application/dmn+xml', form: 'application/json' };

const CHECK_DELAY_MS = 700; // after the last change, before the server is asked
const UNSAVED = 'Your changes are not deployed or downloaded. Leave them?';

export async function render(context) {
  const page = new ModelerPage(context);
  await page.start();
  return { leave: () => page.leave(), destroy: () => page.destroy() };
}

class ModelerPage {
  constructor({ main, params, announce, setTitle, navigate }) {
    Object.assign(this, { main, params, announce, setTitle, navigate });
    this.editors = {};
    this.active = null; // the file on screen
    this.server = { state: 'unknown', problems: [] };
    this.lint = {};
    this.deploying = false;
    this.checkNumber = 0;
    this.queue = Promise.resolve(); // opening and saving files, one at a time (see serially)
    this.scheduleCheck = debounce(() => this.check(), CHECK_DELAY_MS);
    this.onBeforeUnload = (event) => {
      if (this.workspace?.dirty) event.preventDefault();
    };
  }

  // ---- loading ----------------------------------------------------------------------------------------------

  async start() {
    const status = h('p', { class: 'loading', role: 'status' }, 'Opening the modeler…');
    this.main.append(status);
    const [services, workspace] = await Promise.all([
      api('/api/v1/services').catch(() => []),
      this.params.key
        ? api(`/api/v1/definitions/${encodeURIComponent(this.params.key)}/versions/${this.params.number}`).then(
            (version) => Workspace.fromVersion(version),
          )
        : Workspace.empty(),
    ]);
    status.remove();
    this.services = services;
    this.workspace = workspace;
    this.draw();
    window.addEventListener('beforeunload', this.onBeforeUnload);
    // Signed in again after the session ended: ask the server again, under the new session.
    this.unsubscribe = session.subscribe((what) => {
      if (what === 'signed-in') this.check();
    });
    await this.openFile(this.workspace.mainDiagram(this.workspace.origin?.version?.process_id));
    this.check();
  }

  draw() {
    this.heading = h('h1', {});
    this.origin = h('p', { class: 'origin' });
    this.deployButton = h('button', { type: 'button', class: 'primary', onClick: () => this.deploy() }, 'Deploy');
    this.deployNote = h('span', { class: 'deploy-note', id: 'deploy-note' });
    this.deployButton.setAttribute('aria-describedby', 'deploy-note');
    this.fileInput = h('input', {
      type: 'file',
      accept: '.bpmn,.dmn,.xml,.json,.yaml,.yml',
      multiple: true,
      hidden: true,
      id: 'import-files',
      onChange: () => this.importFiles(),
    });
    this.downloadButton = h('button', { type: 'button', onClick: () => this.downloadActive() }, 'Download');
    this.tabs = h('div', { class: 'file-tabs', role: 'tablist', 'aria-label': 'Files' });
    this.tabs.addEventListener('keydown', (event) => this.moveBetweenTabs(event));
    this.bpmnArea = h(
      'div',
      { class: 'workbench', id: 'bpmn-workbench', role: 'tabpanel', hidden: true },
      (this.bpmnCanvas = h('div', { class: 'canvas', role: 'region', 'aria-label': 'BPMN diagram' })),
      (this.propertiesArea = h('aside', { class: 'properties', 'aria-label': 'Properties of the selected element' })),
    );
    this.dmnArea = h(
      'div',
      { class: 'workbench dmn', id: 'dmn-workbench', role: 'tabpanel', hidden: true },
      (this.dmnCanvas = h('div', { class: 'canvas dmn-canvas', role: 'region', 'aria-label': 'DMN decisions' })),
    );
    this.formArea = h(
      'div',
      { class: 'workbench form', id: 'form-workbench', role: 'tabpanel', hidden: true },
      (this.formCanvas = h('div', { class: 'canvas form-canvas', role: 'region', 'aria-label': 'Task form' })),
    );
    this.areas = { bpmn: this.bpmnArea, dmn: this.dmnArea, form: this.formArea };
    this.checksPanel = new ChecksPanel({ onReveal: (item) => this.reveal(item) });
    this.scenariosPanel = new ScenariosPanel({
      workspace: () => this.workspace,
      save: () => this.saveActive(),
      modeler: () => (this.active?.kind === 'bpmn' ? this.editors.bpmn?.modeler : null),
      processId: () => this.editors.bpmn?.processId(),
      onChange: () => this.changed(),
      announce: (text) => this.announce(text),
    });
    this.status = h('p', { class: 'deploy-status', role: 'status' });
    this.companions = h('p', { class: 'companions' });
    this.main.closest('main')?.classList.add('wide');
    this.main.append(
      h('div', { class: 'page-head' }, h('div', {}, this.heading, this.origin)),
      h(
        'div',
        { class: 'toolbar', role: 'group', 'aria-label': 'Files and deployment' },
        h('button', { type: 'button', onClick: () => this.newDiagram() }, 'New diagram'),
        h('button', { type: 'button', onClick: () => this.fileInput.click() }, 'Import files…'),
        this.fileInput,
        this.downloadButton,
        h('span', { class: 'toolbar-gap' }),
        this.deployNote,
        this.deployButton,
      ),
      this.status,
      this.tabs,
      this.bpmnArea,
      this.dmnArea,
      this.formArea,
      this.companions,
      this.checksPanel.element,
      this.scenariosPanel.element,
    );
    this.drawHeading();
    this.scenariosPanel.load();
  }

  drawHeading() {
    const origin = this.workspace.origin;
    if (origin) {
      const version = origin.version || {};
      const status = fieldOf(version, 'status', 'approval');
      this.heading.textContent = `${origin.key} · version ${origin.number}`;
      this.setTitle(`${origin.key} version ${origin.number}`);
      this.origin.textContent = [
        status ? `${status[0].toUpperCase()}${status.slice(1)}.` : '',
        version.deployed_at ? `Deployed ${formatWhen(version.deployed_at)}.` : '',
        'What you change here is deployed as a new version.',
      ]
        .filter(Boolean)
        .join(' ');
    } else {
      this.heading.textContent = 'New pathway';
      this.setTitle('New pathway');
      this.origin.textContent = 'Draw from the palette on the left, or import files from Camunda Modeler.';
    }
    const others = this.workspace.files.filter((file) => file.kind === 'other' && !/\.scenarios\.ya?ml$/i.test(file.name));
    this.companions.textContent = others.length
      ? `Deployed with it, unchanged: ${others.map((file) => file.name).join(', ')}.`
      : '';
    this.drawTabs();
  }

  drawTabs() {
    this.tabs.replaceChildren(
      ...this.workspace.diagrams.map((file) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            'aria-selected': String(file === this.active),
            'aria-controls': this.areas[file.kind].id,
            tabindex: file === this.active ? '0' : '-1',
            onClick: () => this.switchTo(file),
          },
          file.name.split('/').pop(),
          h('span', { class: 'visually-hidden' }, ` (${DIAGRAM_KINDS[file.kind]})`),
        ),
      ),
    );
    this.downloadButton.textContent = this.active
      ? `Download ${this.fileName(this.active).split('/').pop()}`
      : 'Download';
  }

  moveBetweenTabs(event) {
    const tabs = [...this.tabs.querySelectorAll('[role=tab]')];
    const index = tabs.indexOf(document.activeElement);
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (index < 0 || next === undefined || !tabs[next]) return;
    event.preventDefault();
    tabs[next].focus();
    tabs[next].click();
  }

  // ---- editors ----------------------------------------------------------------------------------------------

  async editorFor(kind) {
    if (!this.editors[kind]) {
      if (kind === 'bpmn') {
        const { BpmnEditor } = await import('./bpmn-editor.js');
        this.editors.bpmn = new BpmnEditor({
          canvas: this.bpmnCanvas,
          properties: this.propertiesArea,
          services: this.services,
          forms: {
            names: () => this.workspace.forms.map((form) => form.name),
            create: (name, title) => this.createForm(name, title),
            open: (name) => this.openForm(name),
          },
          onChange: () => this.changed(),
        });
        const eventBus = this.editors.bpmn.modeler.get('eventBus');
        eventBus.on('linting.completed', ({ issues }) => {
          this.lint = issues || {};
          this.drawChecks();
        });
      } else if (kind === 'dmn') {
        const { DmnEditor } = await import('./dmn-editor.js');
        this.editors.dmn = new DmnEditor({ canvas: this.dmnCanvas, onChange: () => this.changed() });
      } else {
        const { FormEditor } = await import('./form-editor.js');
        this.editors.form = new FormEditor({ canvas: this.formCanvas, onChange: () => this.changed() });
      }
    }
    return this.editors[kind];
  }

  /**
   * Runs ``task`` after every editor task started before it: an editor opening one file must not be saved
   * into another, nor a check read a half-opened diagram.
   */
  serially(task) {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Shows ``file`` in its editor. Resolves to false (and says why) when the file cannot be opened. */
  openFile(file) {
    return this.serially(() => this.open(file));
  }

  async open(file) {
    if (!file) return false;
    const editor = await this.editorFor(file.kind);
    const shown = Object.fromEntries(Object.entries(this.areas).map(([kind, area]) => [kind, !area.hidden]));
    // The editor measures its canvas when it opens a file: the canvas must be on screen by then.
    for (const [kind, area] of Object.entries(this.areas)) area.hidden = file.kind !== kind;
    try {
      this.opening = true;
      const warnings = await editor.open(file.content);
      if (warnings.length) this.say(`${file.name} opened with ${warnings.length} warnings: ${warnings[0].message}`);
    } catch (error) {
      for (const [kind, area] of Object.entries(this.areas)) area.hidden = !shown[kind];
      this.say(`${file.name} could not be opened: ${error.message}`, true);
      return false;
    } finally {
      this.opening = false;
    }
    this.active = file;
    if (file.kind !== 'bpmn') this.lint = {};
    this.drawTabs();
    this.scenariosPanel.paint(); // the last run's coverage, on the diagram now on screen
    this.showServerVerdict();
    return true;
  }

  saveActive() {
    return this.serially(async () => {
      if (this.active) this.active.content = await this.editors[this.active.kind].save();
    });
  }

  async switchTo(file) {
    if (file === this.active) return;
    await this.saveActive();
    await this.openFile(file);
  }

  changed() {
    if (this.opening) return;
    this.workspace.dirty = true;
    this.checksPanel.element.setAttribute('aria-busy', 'true'); // a check is due
    this.scheduleCheck();
    this.updateDeploy();
  }

  /** A new diagram is named after its process when saved (the process id is the pathway's key). */
  fileName(file) {
    if (!this.workspace.fresh || file.kind !== 'bpmn' || file !== this.workspace.diagrams[0]) return file.name;
    const processId = this.editors.bpmn?.processId();
    return processId ? `${processId}.bpmn` : file.name;
  }

  // ---- checks -----------------------------------------------------------------------------------------------

  async check() {
    const number = ++this.checkNumber;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    try {
      await this.saveActive();
      if (number !== this.checkNumber) return;
      this.nameFreshFile();
      this.checksPanel.element.setAttribute('aria-busy', 'true');
      this.server = { ...this.server, state: 'checking' };
      this.showServerVerdict();
      const verdict = await validate(this.workspace, controller.signal);
      if (number !== this.checkNumber) return;
      this.server = verdict;
    } catch (error) {
      if (error.name === 'AbortError' || number !== this.checkNumber) return;
      this.server = { state: 'error', problems: [], detail: describe(error) };
    }
    this.checksPanel.element.setAttribute('aria-busy', 'false');
    this.showServerVerdict();
  }

  nameFreshFile() {
    const [first] = this.workspace.diagrams;
    const name = first && this.fileName(first);
    if (!first || first.name === name) return;
    first.name = name;
    this.drawTabs();
  }

  /** The server's problems on the canvas (this file's) and in the checks list (every file's). */
  showServerVerdict() {
    const checks = this.active?.kind === 'bpmn' ? this.editors.bpmn?.checks : null;
    if (checks) {
      const here = this.server.problems.filter((problem) => !problem.file || problem.file === this.active.name);
      checks.setServer(this.server.state, here);
    }
    this.drawChecks();
    this.updateDeploy();
  }

  drawChecks() {
    const registry = this.active?.kind === 'bpmn' ? this.editors.bpmn.modeler.get('elementRegistry') : null;
    this.checksPanel.update({
      server: this.server,
      lint: this.active?.kind === 'bpmn' ? this.lint : {},
      activeFile: this.active?.name,
      files: this.workspace.diagrams,
      nameOf: (id) => registry?.get(id)?.businessObject?.name || null,
    });
  }

  async reveal(item) {
    const file = this.workspace.diagrams.find((each) => each.name === item.file);
    if (file && file !== this.active) await this.switchTo(file);
    const editor = this.editors[this.active.kind];
    const shown = item.element_id && (await editor.reveal(item.element_id));
    this.announce(
      shown
        ? `Selected ${item.element_name || item.element_id}: its properties and checks are shown.`
        : 'That problem is about the file as a whole, not one element.',
    );
  }

  updateDeploy() {
    const designer = session.has('designer');
    const state = this.server.state;
    let note = '';
    if (!designer) note = 'Deploying needs the designer role.';
    else if (state === 'invalid') note = 'Fix the problems the server found to deploy.';
    else if (state === 'checking' || state === 'unknown') note = 'Waiting for the server’s check…';
    else if (state === 'error') note = 'The server could not check the files.';
    this.deployNote.textContent = note;
    this.deployButton.disabled = this.deploying || !designer || !['valid', 'unavailable'].includes(state);
  }

  // ---- files ------------------------------------------------------------------------------------------------

  async newDiagram() {
    if (this.workspace.dirty && !window.confirm(UNSAVED)) return;
    if (this.params.key) {
      await this.navigate('/studio/new');
      return;
    }
    await this.replaceWorkspace(Workspace.empty());
  }

  async importFiles() {
    const chosen = [...this.fileInput.files];
    this.fileInput.value = '';
    if (!chosen.length) return;
    let files;
    try {
      files = await Workspace.read(chosen);
    } catch (error) {
      this.say(error.message, true);
      return;
    }
    if (files.some((file) => file.kind === 'bpmn')) {
      if (this.workspace.dirty && !window.confirm(UNSAVED)) return;
      const workspace = new Workspace(files);
      workspace.dirty = true;
      if (await this.replaceWorkspace(workspace)) {
        this.say(`Imported ${files.map((file) => file.name).join(', ')}.`);
        if (this.params.key) history.replaceState({}, '', '/studio/new');
        this.params = {};
      }
    } else {
      await this.saveActive();
      this.workspace.add(files);
      this.drawHeading();
      this.scenariosPanel.load();
      this.say(`Added ${files.map((file) => file.name).join(', ')}.`);
      this.check();
    }
  }

  /** Shows ``workspace`` instead of the current one; false (nothing changed) if its diagram cannot open. */
  async replaceWorkspace(workspace) {
    const previous = this.workspace;
    const previousActive = this.active;
    this.workspace = workspace;
    if (!(await this.openFile(workspace.mainDiagram()))) {
      this.workspace = previous;
      this.active = previousActive;
      if (previousActive) await this.openFile(previousActive);
      return false;
    }
    this.server = { state: 'unknown', problems: [] };
    this.drawHeading();
    this.scenariosPanel.load();
    this.check();
    return true;
  }

  async downloadActive() {
    await this.saveActive();
    download(this.fileName(this.active).split('/').pop(), this.active.content, DOWNLOAD_TYPES[this.active.kind]);
    this.workspace.dirty = false;
  }

  // ---- task forms ---------------------------------------------------------------------------------------------

  /** Adds an empty form ``name`` to the files (deployed with them) and opens it in the form editor. */
  async createForm(name, title) {
    if (!this.workspace.formNamed(name)) {
      this.workspace.addForm(name, title);
      this.changed();
    }
    await this.openForm(name);
  }

  /** Shows the form a user task names in the form editor; the diagram stays one tab away. */
  async openForm(name) {
    const file = this.workspace.formNamed(name);
    if (!file) {
      this.say(`This diagram has no form ${name}: create it from the user task's properties.`, true);
      return;
    }
    await this.switchTo(file);
    this.announce(`The form ${name} is open in the form editor; the diagram is in the first file tab.`);
  }

  // ---- deployment -------------------------------------------------------------------------------------------

  async deploy() {
    this.scheduleCheck.cancel();
    this.deploying = true;
    this.updateDeploy();
    this.say('Deploying…');
    try {
      await this.saveActive();
      this.nameFreshFile();
      const deployed = await deploy(this.workspace);
      this.deployed(deployed);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422 && error.problems.length) {
        this.server = { state: 'invalid', problems: error.problems };
        this.showServerVerdict();
        this.say(`The server refused the deployment: ${error.problems.length} problems, listed under Checks.`, true);
      } else if (error instanceof SessionEnded) {
        this.say('Not deployed: your session has ended. Sign in again, then deploy.', true);
      } else {
        this.say(`Not deployed. ${describe(error)}`, true);
      }
    } finally {
      this.deploying = false;
      this.updateDeploy();
    }
  }

  deployed(version) {
    this.workspace.dirty = false;
    this.workspace.fresh = false;
    this.workspace.origin = { key: version.key, number: version.number, version };
    this.params = { key: version.key, number: String(version.number) };
    history.replaceState({}, '', `/studio/pathways/${encodeURIComponent(version.key)}/versions/${version.number}`);
    this.drawHeading();
    this.status.replaceChildren(
      version.created === false
        ? `These files are identical to version ${version.number} of ${version.key}: nothing new was deployed. `
        : `Deployed version ${version.number} of ${version.key}` +
            `${approvalNote(version)}. `,
      h('a', { href: '/studio/' }, 'See it in the pathway library'),
      '.',
    );
    this.status.className = 'deploy-status success';
    this.announce(this.status.textContent);
  }

  say(text, problem = false) {
    this.status.textContent = text;
    this.status.className = problem ? 'deploy-status problem' : 'deploy-status';
  }

  // ---- leaving ------------------------------------------------------------------------------------------------

  leave() {
    return !this.workspace?.dirty || window.confirm(UNSAVED);
  }

  destroy() {
    this.scheduleCheck.cancel();
    this.controller?.abort();
    window.removeEventListener('beforeunload', this.onBeforeUnload);
    this.unsubscribe?.();
    for (const editor of Object.values(this.editors)) editor.destroy();
  }
}

function approvalNote(version) {
  const status = fieldOf(version, 'status', 'approval');
  if (status === 'approved') return ', approved';
  if (status === 'draft' || status === undefined) {
    return ' as a draft: referrals start on it once a clinical approver has approved it';
  }
  return ` (${status})`;
}
