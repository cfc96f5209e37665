// The process editor page: bpmn-js modeler with the Camunda properties panel on a deployed version (or a
// local file), checked and deployed through the definitions API. window.opsflowEditor is the page's handle
// (the browser tests import the MIWG reference files through it).
import { Actions } from "./editor/actions";
import { createModeler, importDiagram } from "./editor/modeler";
import { Problems } from "./editor/problems";
import { Bundle, getText } from "./editor/server";
import { pageLanguage } from "./editor/translate";
import { format, hideStatus, readJson, showStatus } from "./editor/ui";

const config = readJson("editor-config");
const strings = readJson("editor-i18n");
const canvas = document.getElementById("editor-canvas");
const modeler = createModeler(canvas, document.getElementById("editor-properties"), pageLanguage(config));
const problems = new Problems(modeler, strings);
const dirtyLabel = document.getElementById("editor-dirty");

const state = {
  dirty: false,
  leaving: false,
  fileName: null,
  lastImport: null,
  markClean() { setDirty(false); },
};

function setDirty(dirty) {
  state.dirty = dirty;
  dirtyLabel.dataset.dirty = String(dirty);
  dirtyLabel.textContent = dirty ? strings.unsaved : strings.noChanges;
}

const actions = new Actions({ modeler, config, strings, problems, bundle: new Bundle(config), state });

async function importXML(xml, name = null) {
  problems.clear();
  const result = await importDiagram(modeler, xml);
  state.lastImport = result;
  canvas.dataset.state = result.ok ? "shown" : "failed";
  if (name) state.fileName = name;
  setDirty(false);
  if (!result.ok) {
    showStatus("error", `${strings.loadFailed}: ${result.error}`);
  } else if (result.warnings.length) {
    const list = document.createElement("ul");
    for (const warning of result.warnings.slice(0, 20)) {
      const item = document.createElement("li");
      item.textContent = warning;
      list.append(item);
    }
    showStatus("info", format(strings.importWarnings, { count: result.warnings.length }), list);
  } else if (name) {
    showStatus("info", format(strings.opened, { name }));
  } else {
    hideStatus();
  }
  return result;
}

modeler.on("commandStack.changed", () => setDirty(true));

window.addEventListener("beforeunload", (event) => {
  if (state.dirty && !state.leaving) {
    event.preventDefault();
    event.returnValue = strings.leaveWarning; // older browsers show it; newer ones show their own text
  }
});

function busy(button, work) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try { await work(); } finally { button.disabled = false; }
  });
}

busy(document.getElementById("editor-check"), () => actions.check());
busy(document.getElementById("editor-save"), () => actions.save());
busy(document.getElementById("editor-download"), () => actions.download());

const fileInput = document.getElementById("editor-file");
if (fileInput) {
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    if (!file) return;
    if (state.dirty && !window.confirm(strings.leaveWarning)) return;
    await importXML(await file.text(), file.name);
  });
}

async function start() {
  if (!config.xmlUrl) {
    canvas.dataset.state = "empty";
    showStatus("info", strings.chooseFile);
    return;
  }
  showStatus("info", strings.loading);
  try {
    await importXML(await getText(config.xmlUrl));
  } catch (error) {
    canvas.dataset.state = "failed";
    showStatus("error", `${strings.loadFailed}: ${error.message}`);
  }
}

window.opsflowEditor = {
  modeler, config, importXML, actions, problems,
  isDirty: () => state.dirty,
  lastImport: () => state.lastImport,
  ready: start(),
};
