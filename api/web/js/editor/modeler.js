// The bpmn-js modeler with the Camunda 7 properties panel (assignee, candidate groups, form key, due date,
// conditions, timers) and Camunda's modelling behaviours.
import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import { freePrefix } from "./prefixes";
import { translateModules } from "./translate";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";

// language: "zh" adds our translation of bpmn-js's own texts; "en" keeps them as they are.
export function createModeler(canvas, properties, language = "en") {
  return new BpmnModeler({
    container: canvas,
    propertiesPanel: { parent: properties },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule,
      ...translateModules(language),
    ],
    moddleExtensions: { camunda: camundaModdle },
  });
}

// Import a diagram; never throws. Warnings (unknown extension elements, unresolved references the
// importer could skip) are kept and shown; an error means the diagram could not be shown at all.
const CAMUNDA = camundaModdle.uri;

export async function importDiagram(modeler, original) {
  const { xml, note } = freePrefix(original, camundaModdle.prefix, CAMUNDA);
  try {
    const { warnings } = await modeler.importXML(xml);
    modeler.get("canvas").zoom("fit-viewport", "auto");
    const notes = (warnings || []).map((w) => String(w.message || w));
    return { ok: true, error: null, warnings: note ? [note, ...notes] : notes };
  } catch (error) {
    const warnings = (error.warnings || []).map((w) => String(w.message || w));
    return { ok: false, error: String(error.message || error), warnings };
  }
}

export async function currentXml(modeler) {
  const { xml } = await modeler.saveXML({ format: true });
  return xml;
}
