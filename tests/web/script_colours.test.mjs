// The Dialogue Script widget's colouring, on outlines as the pack's parser gives them (POST /tavid/script_outline;
// the outlines below are its answers for these scripts, tavid_core.dialogue.script_outline).
import { test } from "node:test";
import assert from "node:assert/strict";
import { linePieces, scriptHtml, scriptStatus, scriptView, tagKey } from "../../web/lib/script_colours.js";

const SCRIPT = "# two people\nAda: Hi [laughs] there.\n[pause:0.6s]\nSam: It took [mm-hm] an hour.\nC: no";
const OUTLINE = {
  turns: { 2: 0, 4: 1 }, speakers: ["Ada", "Sam"],
  error: { line: 5, fix: null,
    message: "a third speaker 'C'; a dialogue has exactly two: Ada (line 2) and Sam (line 4)" },
  tags: ["laughs"], backchannels: ["mm-hm"],
};

test("a line is cut into label, words and tags that join back into the line", () => {
  const pieces = linePieces("Ada: Hi [laughs] there.");
  assert.deepEqual(pieces.map((p) => p.kind), ["label", "words", "tag", "words"]);
  assert.equal(pieces.map((p) => p.text).join(""), "Ada: Hi [laughs] there.");
  assert.deepEqual(linePieces("[S2] yes").map((p) => [p.kind, p.text]), [["label", "[S2]"], ["words", " yes"]]);
  assert.deepEqual(linePieces("  [pause:800ms]").map((p) => p.kind), ["pause"]);
  assert.deepEqual(linePieces("   # note").map((p) => p.kind), ["comment"]);
  assert.equal(tagKey("[ Mm-Hm ]"), "mm-hm");
});

test("speakers come from the parser's outline, and a new line with a known label takes its speaker", () => {
  const view = scriptView(SCRIPT + "\nsam: again", OUTLINE);
  assert.deepEqual(view.map((l) => l.speaker), [null, 0, null, 1, null, 1]);
  assert.deepEqual(view.map((l) => l.error), [false, false, false, false, true, false]);
});

test("the HTML colours A and B, gives a backchannel the listener's colour, marks the error line", () => {
  const html = scriptHtml(SCRIPT, OUTLINE);
  const lines = html.split("</div>").filter(Boolean);
  assert.equal(lines.length, 5);
  assert.match(lines[1], /<span class="tavid-label tavid-a">Ada:<\/span>/);
  assert.match(lines[1], /<span class="tavid-tag">\[laughs\]<\/span>/);
  assert.match(lines[2], /class="tavid-pause"/);
  assert.match(lines[3], /<span class="tavid-tag tavid-backchannel tavid-a">\[mm-hm\]<\/span>/);   // Ada says it
  assert.match(lines[4], /^<div class="tavid-line tavid-error-line">/);
  assert.equal(html.replace(/<[^>]+>/g, "").replace(/&#8203;/g, ""), SCRIPT.replace(/\n/g, ""));
});

test("text is escaped, so a script cannot inject markup", () => {
  assert.doesNotMatch(scriptHtml("A: <img src=x onerror=alert(1)>", null), /<img/);
});

test("the status names the error's line, or the two speakers", () => {
  assert.deepEqual(scriptStatus(OUTLINE), { text: `line 5: ${OUTLINE.error.message}`, error: true, line: 5 });
  assert.equal(scriptStatus({ ...OUTLINE, error: null }).text, "A Ada · B Sam · 2 turns");
  const empty = { turns: {}, error: { line: null, message: "the script has no turns", fix: "Write one." } };
  assert.equal(scriptStatus(empty).text, "the script has no turns. Write one.");
});
