// ComfyUI-TAVID in the editor: the Dialogue Script coloured by speaker with its first mistake at its line,
// the sample portraits shown in TAVID Load Portrait, who speaks when under the Speech Generator after a run,
// TAVID Evaluate's report as tables in its node, and the pack's warnings (memory) on screen.
// Plain JS against the frontend's extension API; what it draws is made by the pure functions in lib/.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { reportHtml } from "./lib/report_tables.js";
import { scriptHtml, scriptStatus } from "./lib/script_colours.js";
import { stripHtml } from "./lib/speech_strip.js";

const STYLE = `
.tavid-a { color: #6cb4ff; } .tavid-b { color: #ffb454; }
.tavid-label { font-weight: bold; }
.tavid-tag { color: #d19dff; } .tavid-tag.tavid-backchannel { font-style: italic; }
.tavid-pause { color: #5fd7c0; } .tavid-comment { color: #8a8f98; font-style: italic; }
.tavid-error-line { background: rgba(255, 70, 70, 0.22); text-decoration: underline wavy #ff5050; }
.tavid-script-back { position: absolute; overflow: hidden; pointer-events: none; white-space: pre-wrap;
  overflow-wrap: break-word; box-sizing: border-box; color: var(--input-text, #ddd); }
textarea.tavid-script-input { position: relative; z-index: 1; background: transparent !important;
  color: transparent !important; caret-color: var(--input-text, #ddd); }
textarea.tavid-script-input::selection { background: rgba(120, 160, 255, 0.35); color: transparent; }
.tavid-status { font: 12px sans-serif; padding: 2px 6px; color: #9aa; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; box-sizing: border-box; }
.tavid-status.tavid-error { color: #ff7070; white-space: normal; display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; }
.tavid-portrait { width: 100%; height: 100%; object-fit: contain; }
.tavid-strip { font: 11px sans-serif; color: #bbb; padding: 2px 4px; box-sizing: border-box; }
.tavid-strip-row { display: flex; align-items: center; height: 18px; }
.tavid-strip-name { width: 64px; flex: none; overflow: hidden; white-space: nowrap; }
.tavid-strip-track, .tavid-strip-axis { position: relative; flex: 1; height: 12px; }
.tavid-strip-track { background: rgba(255, 255, 255, 0.06); border-radius: 2px; }
.tavid-bar { position: absolute; top: 0; bottom: 0; border-radius: 2px; }
.tavid-bar-a { background: #6cb4ff; } .tavid-bar-b { background: #ffb454; }
.tavid-tick { position: absolute; color: #889; font-size: 10px; white-space: nowrap; }
.tavid-tick-middle { transform: translateX(-50%); } .tavid-tick-end { transform: translateX(-100%); }
.tavid-report-box { font: 12px sans-serif; color: #ddd; overflow: auto; padding: 4px; box-sizing: border-box; }
.tavid-report-box > div { width: 600px; }   /* a fixed width: the height then does not depend on the room */
.tavid-report { border-collapse: collapse; margin: 6px 0; width: 100%; }
.tavid-report caption { text-align: left; font-weight: bold; padding: 4px 0; color: #fff; }
.tavid-report th { text-align: right; color: #9ab; font-weight: normal; padding: 1px 6px; }
.tavid-report td { padding: 1px 6px; border-top: 1px solid rgba(255, 255, 255, 0.07); }
.tavid-number { text-align: right; font-variant-numeric: tabular-nums; }
.tavid-better { color: #889; font-size: 11px; }
.tavid-report-heading { color: #bcd; } .tavid-report-footer { color: #889; margin-top: 4px; }
`;

function addStyle() {
  const style = document.createElement("style");
  style.textContent = STYLE;
  document.head.appendChild(style);
}

function widgetNamed(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

// `then` called after what `object[name]` did (a callback of the frontend or of another extension), with its
// arguments; what that returned is returned.
function after(object, name, then) {
  const before = object[name];
  object[name] = function (...args) {
    const result = before?.apply(this, args);
    then.apply(this, args);
    return result;
  };
}

const DOM_MARGIN = 20;   // frontend 1.27.10 draws a DOM widget's element this much shorter than its row

// A read-only DOM widget `height(element)` pixels high, added once and reused.
function htmlWidget(node, name, className, height) {
  let widget = widgetNamed(node, name);
  if (!widget) {
    const element = document.createElement("div");
    element.className = className;
    const rows = () => height(element) + DOM_MARGIN;
    const options = { serialize: false, getMinHeight: rows, getMaxHeight: rows };
    widget = node.addDOMWidget(name, "tavid-view", element, options);
  }
  return widget;
}

function fitHeight(node) {
  const [width] = node.size;
  node.setSize([width, Math.max(node.size[1], node.computeSize([width, 0])[1])]);
  node.setDirtyCanvas(true, true);
}

// ------------------------------------------------------------------------------------ dialogue script
const COPIED = ["fontFamily", "fontSize", "fontWeight", "lineHeight", "letterSpacing", "tabSize", "paddingTop",
  "paddingRight", "paddingBottom", "paddingLeft", "borderTopWidth", "borderRightWidth", "borderBottomWidth",
  "borderLeftWidth", "borderStyle", "borderColor", "borderRadius", "backgroundColor"];

function colourScript(node) {
  const widget = widgetNamed(node, "script");
  const textarea = widget?.inputEl;
  if (!textarea) return;
  const back = document.createElement("div");
  back.className = "tavid-script-back";
  // one line, two for a mistake: the message says what is wrong and how to put it right
  const status = htmlWidget(node, "script_status", "tavid-status", (element) =>
    (element.classList.contains("tavid-error") ? 36 : 20)).element;
  let outline = null;
  let asked = 0;

  // the coloured layer lies exactly under the (transparent) text area, in the element the frontend moves
  const place = () => {
    const parent = textarea.parentElement;
    if (!parent) return;
    if (back.parentElement !== parent) parent.insertBefore(back, textarea);
    const style = getComputedStyle(textarea);
    if (style.backgroundColor !== "rgba(0, 0, 0, 0)") back.dataset.background = style.backgroundColor;
    for (const key of COPIED) back.style[key] = style[key];
    back.style.backgroundColor = back.dataset.background ?? "";
    back.style.borderColor = "transparent";
    Object.assign(back.style, { left: `${textarea.offsetLeft}px`, top: `${textarea.offsetTop}px`,
      width: `${textarea.offsetWidth}px`, height: `${textarea.offsetHeight}px` });
    back.scrollTop = textarea.scrollTop;
  };
  const paint = () => {
    back.innerHTML = scriptHtml(textarea.value, outline);
    const shown = scriptStatus(outline);
    status.textContent = shown.text;
    status.title = shown.text;
    if (status.classList.contains("tavid-error") !== shown.error) {
      status.classList.toggle("tavid-error", shown.error);
      fitHeight(node);
    }
    place();
  };
  // what the parser makes of the script, asked for once the typing pauses
  const ask = async () => {
    const ticket = ++asked;
    try {
      const response = await api.fetchApi("/tavid/script_outline", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ script: textarea.value, speaker_a: widgetNamed(node, "speaker_a")?.value ?? "",
          speaker_b: widgetNamed(node, "speaker_b")?.value ?? "" }),
      });
      if (response.ok && ticket === asked) outline = await response.json();
    } catch (error) {
      console.warn("TAVID: no script outline", error);
    }
    if (ticket === asked) paint();
  };
  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(ask, 250); };

  textarea.classList.add("tavid-script-input");
  textarea.addEventListener("input", () => { paint(); soon(); });
  textarea.addEventListener("scroll", place);
  new ResizeObserver(place).observe(textarea);
  for (const name of ["speaker_a", "speaker_b"]) {
    const other = widgetNamed(node, name);
    if (other) after(other, "callback", soon);
  }
  after(node, "onDrawForeground", () => {   // the frontend may mount the text area again elsewhere
    if (back.parentElement !== textarea.parentElement) place();
  });
  // a value set by loading a workflow does not fire "input"
  const setValue = widget.options.setValue;
  widget.options.setValue = (value) => { setValue?.(value); paint(); soon(); };
  paint();
  soon();
}

// ------------------------------------------------------------------------------------------- portrait
const SAMPLE = "sample: ";

function portraitUrl(name) {
  if (!name) return "";
  const query = (params) => new URLSearchParams(params).toString();
  if (name.startsWith(SAMPLE)) {
    return api.apiURL(`/tavid/sample_portrait?${query({ name: name.slice(SAMPLE.length) })}`);
  }
  const cut = name.lastIndexOf("/");
  const [subfolder, filename] = cut < 0 ? ["", name] : [name.slice(0, cut), name.slice(cut + 1)];
  return api.apiURL(`/view?${query({ type: "input", filename, subfolder })}`);
}

function showPortrait(node) {
  const combo = widgetNamed(node, "portrait");
  if (!combo) return;
  const image = document.createElement("img");
  image.className = "tavid-portrait";
  const height = () => 160 + DOM_MARGIN;
  node.addDOMWidget("portrait_preview", "tavid-view", image, { serialize: false, getMinHeight: height });
  const show = () => { image.src = portraitUrl(combo.value); };
  after(combo, "callback", show);
  after(node, "onConfigure", show);   // the value a loaded workflow sets
  show();
}

// ------------------------------------------------------------------------------- after a run: results
function showStrip(node, message) {
  const speech = message?.tavid_speech?.[0];
  if (!speech) return;
  const widget = htmlWidget(node, "speech_strip", "tavid-strip", () => 58);
  widget.element.innerHTML = stripHtml(speech);
  fitHeight(node);
}

// The height of what an element holds (its first child, of fixed width), remembered while it is hidden (the
// frontend hides DOM widgets when zoomed far out).
function contentHeight(element) {
  const inner = element.firstElementChild;
  if (inner?.offsetHeight) element.dataset.height = inner.offsetHeight + 10;   // and the box's padding
  return Number(element.dataset.height ?? 0);
}

function showReport(node, message) {
  const tables = message?.tavid_report?.[0];
  if (!tables) return;
  const fresh = !widgetNamed(node, "report_tables");
  const widget = htmlWidget(node, "report_tables", "tavid-report-box", contentHeight);
  widget.element.innerHTML = `<div>${reportHtml(tables)}</div>`;
  delete widget.element.dataset.height;
  if (node.size[0] < 640) node.setSize([640, node.size[1]]);
  if (fresh) {   // the tables' height is known once they are drawn: the node then grows to hold them
    let fitted = 0;
    after(node, "onDrawForeground", () => {
      const height = contentHeight(widget.element);
      if (height && height !== fitted) {
        fitted = height;
        fitHeight(node);
      }
    });
  }
}

function showVoiceReason(node, message) {
  const reason = message?.tavid_voice?.[0];
  if (!reason) return;
  const element = htmlWidget(node, "voice_reason", "tavid-status", () => 20).element;
  element.textContent = reason;
  element.title = reason;   // the whole of a long reason, on hover
  fitHeight(node);
}

const ON_CREATED = { TAVIDDialogueScript: colourScript, TAVIDLoadPortrait: showPortrait };
const ON_EXECUTED = { TAVIDSpeakerMapper: showVoiceReason, TAVIDSpeechGenerator: showStrip,
  TAVIDEvaluate: showReport };

app.registerExtension({
  name: "ComfyUI-TAVID",
  setup() {
    addStyle();
    api.addEventListener("tavid.warning", ({ detail }) => {
      app.extensionManager?.toast?.add({ severity: "warn", summary: detail.node, detail: detail.message, life: 20000 });
    });
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    const shown = ON_EXECUTED[nodeData.name];
    if (!shown) return;
    after(nodeType.prototype, "onExecuted", function (message) { shown(this, message); });
  },
  nodeCreated(node) {
    ON_CREATED[node.comfyClass]?.(node);
  },
});
