// Some tools bind the prefix "camunda" to another namespace (Activiti's, in the MIWG files). bpmn-js's
// Camunda extension owns that prefix, so such a diagram opens but cannot be written back. XML prefixes carry
// no meaning, so the other namespace's prefix is renamed (its attributes and elements keep their namespace).
const XMLNS = "http://www.w3.org/2000/xmlns/";

function freeAlias(root, uri) {
  const base = uri.includes("activiti") ? "activiti" : "ns";
  let alias = base;
  for (let i = 2; root.lookupNamespaceURI(alias) !== null; i += 1) alias = `${base}${i}`;
  return alias;
}

function renameIn(doc, node, prefix, uri, alias) {
  let current = node;
  if (node.namespaceURI === uri && node.prefix === prefix) {
    current = doc.createElementNS(uri, `${alias}:${node.localName}`);
    for (const attribute of Array.from(node.attributes)) current.setAttributeNode(attribute.cloneNode(true));
    while (node.firstChild) current.append(node.firstChild);
    node.replaceWith(current);
  }
  for (const attribute of Array.from(current.attributes)) {
    if (attribute.namespaceURI === XMLNS && attribute.localName === prefix && attribute.value === uri) {
      current.removeAttributeNode(attribute);
    } else if (attribute.namespaceURI === uri && attribute.prefix === prefix) {
      current.removeAttributeNode(attribute);
      current.setAttributeNS(uri, `${alias}:${attribute.localName}`, attribute.value);
    }
  }
  for (const child of Array.from(current.children)) renameIn(doc, child, prefix, uri, alias);
}

// xml with `prefix` moved off any namespace other than `owner`; note says what was done (or null).
export function freePrefix(xml, prefix, owner) {
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) return { xml, note: null };
  const root = doc.documentElement;
  const uri = root.lookupNamespaceURI(prefix);
  if (!uri || uri === owner) return { xml, note: null };
  const alias = freeAlias(root, uri);
  root.setAttributeNS(XMLNS, `xmlns:${alias}`, uri);
  renameIn(doc, root, prefix, uri, alias);
  const text = new XMLSerializer().serializeToString(doc);
  return { xml: text, note: `prefix "${prefix}" was bound to ${uri}; renamed to "${alias}" (same meaning)` };
}
