// Check, save (deploy a new version with If-Match) and download, with the answers shown on the page.
import { currentXml } from "./modeler";
import { problemsOf } from "./problems";
import { postFiles, getJson } from "./server";
import { element, format, hideStatus, saveFile, showStatus } from "./ui";

export class Actions {
  constructor({ modeler, config, strings, problems, bundle, state }) {
    Object.assign(this, { modeler, config, strings, problems, bundle, state });
  }

  fileName() {
    return this.config.mainFile || this.state.fileName || "diagram.bpmn";
  }

  async form() {
    return this.bundle.form(this.fileName(), await currentXml(this.modeler));
  }

  async download() {
    saveFile(this.fileName(), await currentXml(this.modeler));
  }

  async check() {
    const s = this.strings;
    showStatus("info", s.checking);
    const answer = await this.send(this.config.validateUrl, {});
    if (answer && answer.status === 200) {
      this.problems.clear();
      showStatus("success", format(s.valid, { keys: answer.body.keys.join(", ") }));
    }
    return answer;
  }

  async save() {
    const s = this.strings;
    const { config } = this;
    showStatus("info", s.saving);
    const headers = config.key ? { "If-Match": `"${config.latestVersion}"` } : {};
    const answer = await this.send(config.deployUrl, headers, config.key ? { key: config.key } : {});
    if (!answer) return null;
    if (answer.status === 201 || answer.status === 200) this.saved(answer.body);
    else if (answer.status === 412) await this.conflict();
    return answer;
  }

  saved(body) {
    const s = this.strings;
    const { config } = this;
    this.problems.clear();
    this.state.markClean();
    const mine = config.key && body.definitions.find((d) => d.key === config.key);
    if (mine) {
      config.latestVersion = mine.version;
      config.version = mine.version;
      const text = body.created.includes(config.key) ? s.saved : s.unchanged;
      showStatus("success", format(text, { version: mine.version }), " ", this.versionsLink(config.key));
    } else {
      const keys = body.created.length ? body.created : body.unchanged;
      showStatus("success", format(s.created, { keys: keys.join(", ") }), " ", this.versionsLink(body.key));
    }
  }

  versionsLink(key) {
    const href = `${this.config.editorUrl}/${encodeURIComponent(key)}/versions`;
    return element("a", { href, class: "versions-link", text: this.strings.versionsLink });
  }

  async conflict() {
    const s = this.strings;
    const { config } = this;
    let latest = { version: "?", deployed_by: "?", deployed_at: "" };
    try {
      const info = await getJson(`${config.apiBase}/${encodeURIComponent(config.key)}`);
      latest = info.versions[0];
    } catch (error) {
      // the message below still says what happened; only the details are missing
    }
    const when = latest.deployed_at ? new Date(latest.deployed_at).toLocaleString() : "?";
    const text = format(s.conflict, { version: latest.version, who: latest.deployed_by, when,
      opened: config.latestVersion });
    const download = element("button", { type: "button", class: "conflict-download", text: s.downloadMine,
      onClick: () => this.download() });
    const reload = element("button", { type: "button", class: "primary conflict-reload", text: s.reloadLatest,
      onClick: () => { this.state.leaving = true; window.location.assign(`${config.editorUrl}/${encodeURIComponent(config.key)}`); } });
    showStatus("error", text, element("span", { class: "actions conflict-actions" }, download, reload));
  }

  // Send the bundle; show every refusal readably. Returns {status, body}, or null when offline.
  async send(url, headers, fields = {}) {
    const s = this.strings;
    let answer;
    let form;
    try {
      form = await this.form();
    } catch (error) {
      showStatus("error", `${s.exportFailed}: ${error.message}`);
      return null;
    }
    try {
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      answer = await postFiles(url, form, headers);
    } catch (error) {
      showStatus("error", `${s.network} (${error.message})`);
      return null;
    }
    const { status, body } = answer;
    if (status === 422) {
      const title = body.problems ? s.problemsTitle : s.invalidUpload;
      const problems = problemsOf(body);
      const summary = this.problems.allTranslated(problems) ? "" : body.detail || "";
      this.problems.show(`${title} ${summary}`.trim(), problems);
      hideStatus(); // the problem list says it all, at the elements
    } else if (status === 401) {
      showStatus("error", s.signedOut);
    } else if (status === 403) {
      showStatus("error", `${s.forbidden} ${body.detail || ""}`.trim());
    } else if (status === 413) {
      showStatus("error", `${s.tooLarge} ${body.detail || ""}`.trim());
    } else if (status >= 400 && status !== 412) {
      showStatus("error", `${format(s.failed, { status })} ${body.detail || ""}`.trim());
    }
    return answer;
  }
}
