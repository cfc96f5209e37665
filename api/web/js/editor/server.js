// Talking to the definitions API with the page's session: the CSRF header on writes, If-Match on deploys.

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

async function bodyOf(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) return response.json();
  return { detail: (await response.text()).slice(0, 300) };
}

export async function getText(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.text();
}

export async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.json();
}

// The files sent with the diagram: the current modeler XML under the main file's name, plus the
// version's other files (the DMN tables it calls) fetched once, verbatim.
export class Bundle {
  constructor(config) {
    this.config = config;
    this.others = null;
  }

  async otherFiles() {
    if (this.others === null) {
      const { config } = this;
      this.others = await Promise.all(config.otherFiles.map(async (name) => {
        const url = `${config.xmlUrl}&file=${encodeURIComponent(name)}`;
        return [name, await getText(url)];
      }));
    }
    return this.others;
  }

  async form(mainName, xml) {
    const form = new FormData();
    form.append("files", new Blob([xml], { type: "application/xml" }), mainName);
    for (const [name, text] of await this.otherFiles()) {
      form.append("files", new Blob([text], { type: "application/xml" }), name);
    }
    return form;
  }
}

// POST multipart; resolves to {status, body} for every HTTP answer, rejects only when offline.
export async function postFiles(url, form, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json", ...headers },
    body: form,
  });
  return { status: response.status, body: await bodyOf(response) };
}
