// The files a designer works on together: one or more BPMN diagrams, the DMN decisions they call, and the
// companions stored with a version (forms, scenarios), which are kept as they are and deployed again.

export const DIAGRAM_KINDS = { bpmn: 'BPMN diagram', dmn: 'DMN decisions', form: 'task form' };
const ACCEPTED = /\.(bpmn|dmn|xml|json|ya?ml)$/i;
// A user task names its form by the file's name without this suffix (engine/pathways/forms.py).
export const FORM_SUFFIX = '.form.json';

export function kindOf(name, content = '') {
  if (/\.bpmn$/i.test(name)) return 'bpmn';
  if (name.toLowerCase().endsWith(FORM_SUFFIX)) return 'form';
  if (/\.dmn$/i.test(name)) return 'dmn';
  if (/\.xml$/i.test(name)) {
    if (content.includes('http://www.omg.org/spec/BPMN/20100524/MODEL')) return 'bpmn';
    if (/https:\/\/www\.omg\.org\/spec\/DMN\/|http:\/\/www\.omg\.org\/spec\/DMN\//.test(content)) return 'dmn';
  }
  return 'other';
}

export class Workspace {
  constructor(files, origin = null) {
    this.files = files; // [{ name, kind, content }]
    this.origin = origin; // { key, number, version } when opened from the library
    this.dirty = false;
  }

  static fromVersion(version) {
    return new Workspace(
      version.files.map((file) => ({ name: file.filename, kind: kindOf(file.filename, file.content), content: file.content })),
      { key: version.key, number: version.number, version },
    );
  }

  static empty() {
    const id = `pathway_${Math.random().toString(36).slice(2, 8)}`;
    const workspace = new Workspace([{ name: `${id}.bpmn`, kind: 'bpmn', content: emptyDiagram(id) }]);
    workspace.fresh = true; // named after its process when it is deployed or downloaded
    return workspace;
  }

  /** The files edited in the studio: diagrams, decision tables and task forms (one tab each). */
  get diagrams() {
    return this.files.filter((file) => file.kind !== 'other');
  }

  /** The task forms, by the name a user task gives them (the file's name without .form.json). */
  get forms() {
    return this.files
      .filter((file) => file.kind === 'form')
      .map((file) => ({ name: file.name.slice(0, -FORM_SUFFIX.length), file }));
  }

  /** The form file a user task's form name means, or undefined. */
  formNamed(name) {
    return this.forms.find((form) => form.name === name)?.file;
  }

  /** Adds a new, empty form named ``name`` (its file ``name.form.json``) and returns its file. */
  addForm(name, title) {
    const file = { name: `${name}${FORM_SUFFIX}`, kind: 'form', content: emptyForm(name, title) };
    this.add([file]);
    return file;
  }

  /** Reads ``fileList`` (from an <input type=file>): [{ name, kind, content }], or throws saying why not. */
  static async read(fileList) {
    const read = [];
    for (const file of fileList) {
      if (!ACCEPTED.test(file.name)) {
        throw new Error(`${file.name} is not a .bpmn, .dmn, form or scenario file.`);
      }
      const content = await file.text();
      const kind = kindOf(file.name, content);
      const name = /\.xml$/i.test(file.name) && kind !== 'other' ? file.name.replace(/\.xml$/i, `.${kind}`) : file.name;
      read.push({ name, kind, content });
    }
    return read;
  }

  /** Adds ``files``, replacing any of the same name. */
  add(files) {
    for (const file of files) {
      const index = this.files.findIndex((each) => each.name === file.name);
      if (index >= 0) this.files[index] = file;
      else this.files.push(file);
    }
    this.dirty = true;
  }

  /** The BPMN file holding the process ``processId`` (the version's), else the first diagram. */
  mainDiagram(processId) {
    const holds = (file) => file.kind === 'bpmn' && file.content.includes(`id="${processId}"`);
    return (processId && this.files.find(holds)) || this.files.find((file) => file.kind === 'bpmn') || this.diagrams[0];
  }

  /**
   * The files as a deployment's multipart form (the field is ``files``, as for POST /api/v1/definitions),
   * with the pathway's ``key`` when it came from the library: files deployed together may hold several
   * top-level processes, and the key says which one this pathway is.
   */
  form() {
    const form = new FormData();
    for (const file of this.files) {
      form.append('files', new Blob([file.content], { type: 'application/octet-stream' }), file.name);
    }
    if (this.origin?.key) form.append('key', this.origin.key);
    return form;
  }
}

/** A form-js schema with nothing in it yet: the designer adds fields from the form editor's palette. */
export function emptyForm(name, title) {
  const schema = { type: 'default', id: name, components: [] };
  if (title) schema.components.push({ type: 'text', id: `${name}_title`, text: `## ${title}` });
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** A diagram with an executable process and nothing in it yet: the designer draws from the palette. */
export function emptyDiagram(processId) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="Definitions_${processId}" targetNamespace="https://signpost.example/processes" exporter="Signpost studio" exporterVersion="0.1.0">
  <bpmn:process id="${processId}" name="New pathway" isExecutable="true" />
  <bpmndi:BPMNDiagram id="Diagram_${processId}">
    <bpmndi:BPMNPlane id="Plane_${processId}" bpmnElement="${processId}" />
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
`;
}
