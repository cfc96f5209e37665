// Small DOM helpers: every text from data goes in through textContent, never as HTML.

export function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent || "{}") : {};
}

export function format(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name === "onClick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// The status line under the toolbar: kind is info, success or error.
export function showStatus(kind, text, ...extra) {
  const box = document.getElementById("editor-status");
  box.className = `editor-status flash flash-${kind}`;
  box.dataset.kind = kind;
  box.replaceChildren(element("span", { class: "editor-status-text", text }), ...extra);
  box.hidden = false;
}

export function hideStatus() {
  const box = document.getElementById("editor-status");
  box.hidden = true;
  box.replaceChildren();
}

export function saveFile(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/xml" }));
  const link = element("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
