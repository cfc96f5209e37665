// The read-only diagram on the task and case pages: completed elements, active tasks, the task in hand.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";

const READABLE_ZOOM = 0.8;
const MARKERS = { completed: "of-completed", active: "of-active", highlight: "of-highlight" };

async function showDiagram(container) {
  const { xmlUrl } = container.dataset;
  const marks = JSON.parse(container.dataset.marks || "{}");
  const viewer = new NavigatedViewer({ container });
  try {
    const response = await fetch(xmlUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    await viewer.importXML(await response.text());
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    const focus = [...(marks.highlight || []), ...(marks.active || [])].map((id) => registry.get(id))
      .find((element) => element && element.type !== "bpmn:SubProcess");
    if (focus && canvas.zoom() < READABLE_ZOOM) {
      // A wide diagram fitted into the box is unreadable: show the task in hand at a readable size.
      canvas.zoom(READABLE_ZOOM);
      canvas.scrollToElement(focus);
    }
    for (const [kind, ids] of Object.entries(marks)) {
      for (const id of ids || []) {
        if (registry.get(id)) canvas.addMarker(id, MARKERS[kind]);
      }
    }
    container.dataset.state = "shown";
  } catch (error) {
    container.dataset.state = "failed";
    const note = document.createElement("p");
    note.className = "diagram-error";
    note.textContent = `${container.dataset.failText || "The diagram cannot be shown"}: ${error.message}`;
    container.replaceChildren(note);
  }
  return viewer;
}

window.opsflowViewer = { showDiagram };
document.querySelectorAll("[data-diagram]").forEach((el) => showDiagram(el));
