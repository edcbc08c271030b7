// The Dialogue Script widget's colours: each line cut into pieces (label, words, tags, a pause, a comment),
// coloured by the speaker the pack's parser gives the line (POST /tavid/script_outline), and the line of the
// parser's first mistake marked. Only the pieces are found here; who speaks on a line, and what is wrong,
// always come from the parser itself, so the colours never disagree with what a run does.
import { escapeHtml } from "./html.js";

const LABEL = /^(\s*)(\[\s*S\s*\d+\s*\]|speaker\s*\d+\s*:|[^\[\]:#]{1,40}?\s*:)/i;
const TAG = /\[[^\]]*\]/g;
const PAUSE = /^\s*\[\s*pause\b/i;

// The lines of a script as the parser splits them (\r\n, \r or \n).
export function scriptLines(text) {
  return String(text).split(/\r\n|\r|\n/);
}

// A tag's text as the parser looks it up: lower case, single spaces ("[ Mm-Hm ]" -> "mm-hm").
export function tagKey(tag) {
  return tag.slice(1, -1).toLowerCase().split(/\s+/).filter(Boolean).join(" ");
}

// The pieces of one line: [{text, kind}] with kind "blank", "comment", "pause", "label", "words" or "tag";
// joined, their texts are the line.
export function linePieces(line) {
  if (!line.trim()) return [{ text: line, kind: "blank" }];
  if (line.trimStart().startsWith("#")) return [{ text: line, kind: "comment" }];
  if (PAUSE.test(line)) return [{ text: line, kind: "pause" }];
  const pieces = [];
  let rest = line;
  const label = LABEL.exec(line);
  if (label) {
    if (label[1]) pieces.push({ text: label[1], kind: "words" });
    pieces.push({ text: label[2], kind: "label" });
    rest = line.slice(label[0].length);
  }
  let at = 0;
  for (const match of rest.matchAll(TAG)) {
    if (match.index > at) pieces.push({ text: rest.slice(at, match.index), kind: "words" });
    pieces.push({ text: match[0], kind: "tag" });
    at = match.index + match[0].length;
  }
  if (at < rest.length) pieces.push({ text: rest.slice(at), kind: "words" });
  return pieces;
}

// The speaker (0 for A, 1 for B) of a label as the outline says, for lines typed since it came: the label
// text of every line the outline knows, case-folded, with the speaker the parser gave it.
export function labelSpeakers(lines, outline) {
  const known = new Map();
  for (const [number, speaker] of Object.entries(outline?.turns ?? {})) {
    const label = LABEL.exec(lines[Number(number) - 1] ?? "");
    if (label) known.set(label[2].replace(/\s+/g, "").toLowerCase(), speaker);
  }
  return known;
}

// Each line's speaker (0, 1 or null), whether the parser's first mistake is on it, and its pieces.
export function scriptView(text, outline) {
  const lines = scriptLines(text);
  const labels = labelSpeakers(lines, outline);
  const errorLine = outline?.error?.line ?? null;
  return lines.map((line, i) => {
    const number = i + 1;
    const pieces = linePieces(line);
    let speaker = outline?.turns?.[String(number)];
    if (speaker === undefined) {
      const label = pieces.find((p) => p.kind === "label");
      speaker = label ? labels.get(label.text.replace(/\s+/g, "").toLowerCase()) ?? null : null;
    }
    return { number, speaker, error: number === errorLine, pieces };
  });
}

const SPEAKER_CLASS = ["tavid-a", "tavid-b"];

// The script as HTML for the layer drawn under the text area: the same characters, in spans of colour.
// A backchannel tag ([mm-hm]) is said by the listener, so it takes the other speaker's colour.
export function scriptHtml(text, outline) {
  const backchannels = new Set(outline?.backchannels ?? []);
  return scriptView(text, outline).map((line) => {
    const own = line.speaker === null ? "" : SPEAKER_CLASS[line.speaker];
    const other = line.speaker === null ? "" : SPEAKER_CLASS[1 - line.speaker];
    const spans = line.pieces.map((piece) => {
      let cls = `tavid-${piece.kind}`;
      if (piece.kind === "label" || piece.kind === "words") cls += ` ${own}`;
      if (piece.kind === "tag" && backchannels.has(tagKey(piece.text))) cls += ` tavid-backchannel ${other}`;
      return `<span class="${cls.trim()}">${escapeHtml(piece.text)}</span>`;
    }).join("");
    return `<div class="tavid-line${line.error ? " tavid-error-line" : ""}">${spans || "&#8203;"}</div>`;
  }).join("");
}

// The line under the widget: the mistake and its line, or who the two speakers are.
export function scriptStatus(outline) {
  if (!outline) return { text: "", error: false };
  const error = outline.error;
  if (error) {
    const where = error.line ? `line ${error.line}: ` : "";
    return { text: `${where}${error.message}${error.fix ? ". " + error.fix : ""}`, error: true, line: error.line };
  }
  const turns = Object.keys(outline.turns ?? {}).length;
  const [a, b] = outline.speakers ?? [];
  return { text: `A ${a} · B ${b} · ${turns} turn${turns === 1 ? "" : "s"}`, error: false };
}
