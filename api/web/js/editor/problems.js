// The server's problems: a list under the toolbar and a marker with a badge at each element they concern.
// Clicking a problem brings its element into view and selects it (the process itself: its properties).
import { element } from "./ui";

const MARKER = "of-problem";
const OVERLAY = "opsflow-problem";

export class Problems {
  constructor(modeler, strings) {
    this.modeler = modeler;
    this.strings = strings;
    this.marked = [];
    this.box = document.getElementById("editor-problems");
  }

  // The shape a problem points at: the element itself, or the pool of a process id; null for the root.
  find(id) {
    if (!id) return null;
    const registry = this.modeler.get("elementRegistry");
    const found = registry.get(id);
    const root = this.modeler.get("canvas").getRootElement();
    if (found && found !== root && found.type !== "bpmn:Process") return found;
    const pool = registry.find((e) => e.type === "bpmn:Participant" && e.businessObject.processRef?.id === id);
    return pool || null;
  }

  clear() {
    const canvas = this.modeler.get("canvas");
    for (const shape of this.marked) canvas.removeMarker(shape, MARKER);
    this.marked = [];
    this.modeler.get("overlays").remove({ type: OVERLAY });
    this.box.hidden = true;
    this.box.querySelector(".editor-problem-list").replaceChildren();
  }

  // A problem in the page's language, or null when it cannot be said so: opsflow's own rules come with a reason
  // and params (the page's strings hold the templates, from api/web/refusals.py, whose `translated_problem` is
  // the same rule); a SpiffWorkflow finding engine/runtime/findings.py does not know has no reason, and a template
  // needs every one of its params.
  translated(problem) {
    const templates = this.strings.reasons || {};
    const params = problem.params || {};
    const template = problem.reason ? templates[problem.reason] : undefined;
    if (!template) return null;
    const names = [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
    if (names.some((name) => params[name] === undefined || params[name] === null)) return null;
    const text = template.replace(/\{(\w+)\}/g, (whole, name) => String(params[name]));
    return params.juel ? `${text} ${templates.juel_hint}` : text;
  }

  text(problem) {
    return this.translated(problem) ?? problem.message;
  }

  // Whether every problem can be said in the page's language (the server's English summary is then left out).
  allTranslated(problems) {
    return problems.length > 0 && problems.every((problem) => this.translated(problem) !== null);
  }

  // problems: [{message, element_id?, file_name?, line?, reason?, params?}]
  show(title, problems) {
    this.clear();
    const list = this.box.querySelector(".editor-problem-list");
    this.box.querySelector(".editor-problems-title").textContent = title;
    for (const problem of problems) {
      const shape = this.find(problem.element_id);
      if (shape) this.mark(shape, this.text(problem));
      list.append(this.item(problem, shape));
    }
    this.box.hidden = false;
  }

  item(problem, shape) {
    const where = [];
    if (problem.file_name) where.push(problem.file_name);
    if (problem.line) where.push(this.strings.line.replace("{line}", problem.line));
    const place = where.length ? element("span", { class: "muted", text: ` (${where.join(", ")})` }) : null;
    const name = shape ? shape.businessObject.name || shape.id : problem.element_id || this.strings.whole;
    const target = element("button", {
      type: "button", class: "link problem-target", "data-element-id": problem.element_id || "", text: name,
      onClick: () => this.reveal(problem.element_id),
    });
    return element("li", { class: "problem", "data-element-id": problem.element_id || "" },
      target, element("span", { text: `: ${this.text(problem)}` }), place);
  }

  mark(shape, message) {
    this.modeler.get("canvas").addMarker(shape, MARKER);
    this.marked.push(shape);
    const badge = element("button", { type: "button", class: "problem-badge", title: message, text: "!",
      "aria-label": message, onClick: () => this.reveal(shape.id) });
    this.modeler.get("overlays").add(shape, OVERLAY, { position: { top: -10, right: 10 }, html: badge });
  }

  reveal(id) {
    const canvas = this.modeler.get("canvas");
    const selection = this.modeler.get("selection");
    const shape = this.find(id);
    if (!shape) {
      selection.select(null); // the properties panel then shows the process itself
      return;
    }
    const root = canvas.findRoot ? canvas.findRoot(shape) : null;
    if (root && root !== canvas.getRootElement()) canvas.setRootElement(root);
    canvas.scrollToElement(shape);
    selection.select(shape);
  }
}

// A problem+json body as a list of problems: invalid-model `problems`, or validation `errors` by field.
export function problemsOf(body) {
  if (Array.isArray(body.problems) && body.problems.length) return body.problems;
  if (body.errors && typeof body.errors === "object") {
    return Object.values(body.errors).flat().map((message) => ({ message: String(message) }));
  }
  return [{ message: String(body.detail || body.title || "") }];
}
