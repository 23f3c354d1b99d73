// The page at GET /: calls POST /v1/stance and POST /v1/feedback of the same server and draws the answer.
// Plain browser JavaScript, no build step and no library, so it runs offline as shipped. Paths are
// relative to the page, so it also works behind a proxy that serves the app under a prefix.
"use strict";

const LABELS = ["deny", "confirm", "condemn", "threaten", "none"];
const LABEL_HELP = {
  deny: "says the claim is false or will not happen",
  confirm: "says the claim is true",
  condemn: "denounces the claim or its actor",
  threaten: "warns of harm tied to the claim",
  none: "no stance on this claim",
};
const DEFAULT_TARGETS = [
  "North Korea exported arms to Russia.",
  "North Korea will conduct a nuclear test.",
];
const KEY_STORE = "stancewire.apiKey";

const state = { result: null, text: "", targetIndex: 0, statementIndex: null, requestId: "" };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const pct = (p) => `${Math.round(p * 100)}%`;

// ---- talking to the API -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function detailText(body) {
  // FastAPI answers {"detail": "..."} for our own errors and {"detail": [{loc, msg}, ...]} for schema ones
  if (!body || body.detail === undefined) return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  }
  return JSON.stringify(body.detail);
}

async function callApi(path, payload) {
  const headers = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(payload) });
  } catch (err) {
    throw new ApiError(0, "Cannot reach the stancewire server. Is it still running? Then try again.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (response.ok) return body;
  const detail = detailText(body) || response.statusText;
  if (response.status === 401) {
    showKeyPanel(Boolean(key));
    throw new ApiError(401, key
      ? "The server did not accept this API key. Enter the right key above and try again."
      : "This server needs an API key. Enter it above and try again.");
  }
  if (response.status === 503) {
    const wait = response.headers.get("Retry-After");
    throw new ApiError(503, `The server is busy or still loading its model (${detail}). ` +
      `Try again${wait ? ` in ${wait} s` : " in a moment"}.`);
  }
  if (response.status === 413) throw new ApiError(413, `Too large for this server: ${detail}. Shorten it and try again.`);
  if (response.status === 422) throw new ApiError(422, `Cannot analyse this: ${detail}.`);
  throw new ApiError(response.status, `The server answered ${response.status}: ${detail}`);
}

function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function showKeyPanel(wrongKey) {
  $("key-panel").hidden = false;
  if (wrongKey) sessionStorage.removeItem(KEY_STORE);
  $("api-key").focus();
}

// ---- the input form -----------------------------------------------------------------------------

function addTarget(value = "") {
  const input = el("input", { type: "text", class: "target", "aria-label": "target proposition" });
  input.value = value;
  const item = el("li", {}, input,
    el("button", { type: "button", class: "remove", "aria-label": "remove this target", text: "×",
      onclick: () => item.remove() }));
  $("targets").append(item);
  return input;
}

function targetsFromForm() {
  return [...document.querySelectorAll("#targets input.target")].map((i) => i.value.trim()).filter(Boolean);
}

function newRequestId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `page-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

async function analyse(event) {
  event.preventDefault();
  const button = $("analyse");
  const payload = { text: $("article").value, targets: targetsFromForm() };
  const abstain = $("abstain").value.trim();
  if (abstain !== "") payload.abstain_below = Number(abstain);
  button.disabled = true;
  button.textContent = "Analysing…";
  showMessage("");
  try {
    const result = await callApi("v1/stance", payload);
    state.result = result;
    state.text = payload.text;
    state.targetIndex = 0;
    state.statementIndex = null;
    state.requestId = newRequestId();
    render();
    if (!result.statements.length) {
      showMessage("No quoted or reported statements were found in this text.", "info");
    }
  } catch (err) {
    showMessage(err.message);
  } finally {
    button.disabled = false;
    button.textContent = "3. Analyse";
  }
}

// ---- the result ---------------------------------------------------------------------------------

function stanceOf(statement) {
  return statement.stances[state.targetIndex];
}

function render() {
  $("result").hidden = false;
  renderTargetPicker();
  renderLegend();
  renderArticle();
  renderDetails();
  renderSpeakerTable();
  $("version").textContent = `Model ${state.result.model_version}.`;
}

function renderTargetPicker() {
  const box = $("target-picker");
  box.replaceChildren(el("span", { class: "picker-label", text: "Colour by stance toward:" }));
  state.result.targets.forEach((target, i) => {
    box.append(el("button", {
      type: "button", class: "target-choice", "aria-pressed": String(i === state.targetIndex), text: target,
      onclick: () => { state.targetIndex = i; renderArticle(); renderDetails(); renderTargetPicker(); },
    }));
  });
}

function renderLegend() {
  $("legend").replaceChildren(
    ...LABELS.map((label) => el("li", { class: `swatch label-${label}`, title: LABEL_HELP[label] },
      el("b", { text: label }), ` ${LABEL_HELP[label]}`)),
    el("li", { class: "swatch uncertain" }, el("b", { text: "?" }), " uncertain: the model is not sure"),
  );
}

function renderArticle() {
  // API offsets count Unicode code points (Python); JavaScript strings count UTF-16 units
  const chars = Array.from(state.text);
  const order = state.result.statements.map((s, i) => i).sort(
    (a, b) => state.result.statements[a].start - state.result.statements[b].start);
  const parts = [];
  let cursor = 0;
  for (const i of order) {
    const statement = state.result.statements[i];
    const start = Math.max(statement.start, cursor);
    if (statement.end <= start) continue; // wholly inside an earlier statement: shown in the list only
    parts.push(chars.slice(cursor, start).join(""));
    parts.push(highlight(i, chars.slice(start, statement.end).join("")));
    cursor = statement.end;
  }
  parts.push(chars.slice(cursor).join(""));
  $("highlighted").replaceChildren(...parts);
}

function highlight(i, text) {
  const statement = state.result.statements[i];
  const stance = stanceOf(statement);
  const who = statement.speaker_mention || statement.speaker || "unknown speaker";
  const mark = el("mark", {
    class: `stmt label-${stance.label}${stance.abstained ? " uncertain" : ""}` +
      `${i === state.statementIndex ? " selected" : ""}`,
    "data-index": String(i),
    "data-label": stance.label,
    "data-uncertain": String(stance.abstained),
    tabindex: "0",
    role: "button",
    title: `${who}${statement.cue ? ` (${statement.cue})` : ""}: ${stance.label} ${pct(stance.confidence)}` +
      `${stance.abstained ? ", uncertain" : ""}`,
    onclick: () => select(i),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(i); } },
  }, text, el("sup", { class: "tag", text: `${stance.label}${stance.abstained ? "?" : ""}` }));
  return mark;
}

function select(i) {
  state.statementIndex = i;
  renderArticle();
  renderDetails();
  // on a phone the details sit below the article, on a laptop at the top of the side column
  if (window.matchMedia("(max-width: 800px)").matches) $("details").scrollIntoView({ behavior: "smooth" });
  else $("side").scrollTop = 0;
}

function bars(probs) {
  const chart = el("div", { class: "bars", role: "img",
    "aria-label": LABELS.map((l) => `${l} ${pct(probs[l])}`).join(", ") });
  for (const label of LABELS) {
    chart.append(el("span", { class: "bar-name", text: label }),
      el("span", { class: "bar-track" }, el("span", { class: `bar label-${label}`, style: `width:${pct(probs[label])}` })),
      el("span", { class: "bar-value", text: pct(probs[label]) }));
  }
  return chart;
}

function renderDetails() {
  const box = $("details");
  if (state.statementIndex === null) {
    box.replaceChildren(el("p", { class: "hint", text: "Click a highlighted statement to see its details here." }));
    return;
  }
  const statement = state.result.statements[state.statementIndex];
  const facts = el("dl", {},
    el("dt", { text: "Speaker" }), el("dd", { text: statement.speaker || "not found" }),
    el("dt", { text: "Written as" }), el("dd", { text: statement.speaker_mention || "—" }),
    el("dt", { text: "Introduced by" }), el("dd", { text: statement.cue || "—" }),
    el("dt", { text: "Kind" }), el("dd", { text: statement.kind }));
  const stances = statement.stances.map((stance, t) => stanceBlock(statement, stance, t));
  box.replaceChildren(el("h3", { text: "Selected statement" }), el("blockquote", { text: statement.text }), facts, ...stances);
}

function stanceBlock(statement, stance, t) {
  const block = el("section", { class: `stance${t === state.targetIndex ? " current" : ""}`, "data-target": String(t) },
    el("h4", { text: state.result.targets[t] },
      t === state.targetIndex ? el("small", { class: "now", text: " colours the article now" }) : ""),
    el("p", {}, el("span", { class: `pill label-${stance.label}`, text: stance.label }),
      ` confidence ${pct(stance.confidence)}`,
      stance.abstained ? el("span", { class: "uncertain-note", text: " uncertain: please check" }) : ""),
    bars(stance.probs));
  const wrong = el("button", { type: "button", class: "wrong", text: "This is wrong",
    onclick: () => { wrong.hidden = true; block.append(picker(statement, stance, t)); } });
  block.append(wrong);
  return block;
}

function picker(statement, stance, t) {
  const form = el("form", { class: "picker" });
  const group = el("fieldset", {}, el("legend", { text: "What is the right label for this target?" }));
  for (const label of LABELS) {
    const input = el("input", { type: "radio", name: `label-${t}`, value: label });
    if (label === stance.label) input.disabled = true;
    const note = label === stance.label ? " (the model’s label)" : "";
    group.append(el("label", { class: `choice label-${label}` }, input, ` ${label}`,
      el("small", { text: ` ${LABEL_HELP[label]}${note}` })));
  }
  const status = el("p", { class: "picker-status", role: "status" });
  const send = el("button", { type: "submit", text: "Send correction" });
  form.append(group, send, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = form.querySelector("input[type=radio]:checked");
    if (!chosen) { status.textContent = "Pick the right label first."; return; }
    send.disabled = true;
    try {
      const stored = await callApi("v1/feedback", {
        statement: statement.text, target: state.result.targets[t], label: chosen.value,
        speaker: statement.speaker || null, request_id: state.requestId,
        model_version: state.result.model_version,
      });
      status.textContent = `Thank you: saved as correction #${stored.id} (${stored.label}).`;
      status.className = "picker-status ok";
      group.disabled = true;
    } catch (err) {
      status.textContent = err.message;
      status.className = "picker-status error";
      send.disabled = false;
    }
  });
  return form;
}

function strongest(stances) {
  // a stance beats "none"; among equals, the more confident one wins
  return stances.reduce((best, s) => {
    if (!best) return s;
    const rank = (x) => (x.label === "none" ? 0 : 1);
    if (rank(s) !== rank(best)) return rank(s) > rank(best) ? s : best;
    return s.confidence > best.confidence ? s : best;
  }, null);
}

function renderSpeakerTable() {
  const result = state.result;
  const rows = result.speakers.map((sp) => ({ name: sp.name, mentions: sp.mentions, statements: sp.statements }));
  const unattributed = result.statements.map((s, i) => i).filter((i) => !result.statements[i].speaker);
  if (unattributed.length) rows.push({ name: "(speaker not found)", mentions: [], statements: unattributed });
  const head = el("tr", {}, el("th", { scope: "col", text: "Speaker" }),
    ...result.targets.map((t) => el("th", { scope: "col", text: t })));
  const body = rows.map((row) => el("tr", {},
    el("th", { scope: "row", title: row.mentions.join(", ") }, row.name,
      el("small", { text: ` ${row.statements.length} statement${row.statements.length === 1 ? "" : "s"}` })),
    ...result.targets.map((_, t) => {
      const best = strongest(row.statements.map((i) => result.statements[i].stances[t]));
      return el("td", { class: best.abstained ? "uncertain" : "" },
        el("span", { class: `pill label-${best.label}`, text: best.label }),
        ` ${pct(best.confidence)}${best.abstained ? " ?" : ""}`);
    })));
  $("speaker-table").replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
  if (!rows.length) $("speaker-table").replaceChildren(el("caption", { text: "No statements found." }));
}

// ---- start --------------------------------------------------------------------------------------

async function start() {
  DEFAULT_TARGETS.forEach((t) => addTarget(t));
  $("add-target").addEventListener("click", () => addTarget().focus());
  $("analyse-form").addEventListener("submit", analyse);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
    $("api-key").value = "";
    $("key-panel").hidden = true;
    $("forget-key").hidden = false;
    showMessage("API key saved for this tab. Press Analyse again.", "info");
  });
  $("forget-key").hidden = !sessionStorage.getItem(KEY_STORE);
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    $("forget-key").hidden = true;
  });
  try {
    const response = await fetch("static/seed_article.txt");
    if (response.ok && !$("article").value) $("article").value = await response.text();
  } catch (err) {
    // the seed text is only a convenience: an empty box still works
  }
  document.body.dataset.ready = "true";
}

start();
