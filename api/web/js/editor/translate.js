// bpmn-js's own texts (palette, context pad, replace menu, search, properties panel) in the page's
// language: diagram-js asks its `translate` service for every text, with {name} placeholders; this module
// replaces that service with one that looks the English text up in our dictionary first.
import zh from "./zh";

const DICTIONARIES = { zh };
const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

// The page's language: the editor config's `language` if the page sends one, else <html lang> ("zh-CN" or
// "en"); "zh" or "en".
export function pageLanguage(config = {}) {
  const lang = String(config.language || document.documentElement.lang || "en").toLowerCase();
  return lang.startsWith("zh") ? "zh" : "en";
}

export function translator(dictionary) {
  return function translate(template, replacements = {}) {
    const text = has(dictionary, template) ? dictionary[template] : template;
    return String(text).replace(/{([^}]+)}/g, (whole, key) =>
      replacements && has(replacements, key) ? String(replacements[key]) : whole);
  };
}

// @bpmn-io/properties-panel translates its own buttons and markers ("Toggle section", "Create",
// "Section contains edits", "List contains {numOfItems} items", "Delete item") with the `translate` prop
// of each group, which bpmn-js-properties-panel does not set: this provider, called after all others,
// gives every group the diagram's translate service.
const LAST = 1;

function GroupTranslate(propertiesPanel, translate) {
  this.getGroups = () => (groups) => groups.map((group) => ({ translate, ...group }));
  propertiesPanel.registerProvider(LAST, this);
}
GroupTranslate.$inject = ["propertiesPanel", "translate"];

// The additional modules for a language: none for English (bpmn-js's own texts are English).
export function translateModules(language) {
  const dictionary = DICTIONARIES[language];
  if (!dictionary) return [];
  return [{
    __init__: ["opsflowGroupTranslate"],
    translate: ["value", translator(dictionary)],
    opsflowGroupTranslate: ["type", GroupTranslate],
  }];
}
