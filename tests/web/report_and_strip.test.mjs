// TAVID Evaluate's tables and the Speech Generator's strip, from what the nodes send after a run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { reportHtml } from "../../web/lib/report_tables.js";
import { axisTicks, clock, stripBars, stripHtml } from "../../web/lib/speech_strip.js";

const TABLES = {   // the shape of tavid_core.eval.report_tables
  heading: ["video: 30.5 s, 763 frames at 25 fps, 1024x512", "who speaks when: from the timeline"],
  sections: [{ title: "1. Talking-face realism", heads: ["A Ada", "B Sam", "overall"],
    rows: [{ label: "identity distance", cells: ["0.110", "0.293", "0.202"], better: "lower", meaning: "dlib L2" },
      { label: "speech share", cells: ["", "", "0.72"], better: "", meaning: "share <of> the video" }] }],
  footer: "evaluated in faces 9.1 s",
};

test("the report becomes one table per section, a row per metric, cells in order", () => {
  const html = reportHtml(TABLES);
  assert.equal((html.match(/<table/g) ?? []).length, 1);
  assert.match(html, /<caption>1\. Talking-face realism<\/caption>/);
  assert.match(html, /<th>A Ada<\/th><th>B Sam<\/th><th>overall<\/th>/);
  assert.match(html, /identity distance<\/td><td class="tavid-number">0\.110<\/td>/);
  assert.match(html, /0\.110<\/td><td class="tavid-number">0\.293<\/td><td class="tavid-number">0\.202<\/td>/);
  assert.match(html, /title="share &lt;of&gt; the video"/);
  assert.match(html, /evaluated in faces 9\.1 s/);
  assert.equal(reportHtml(null), "");
});

const SPEECH = { duration: 20, speakers: ["Ada", "Sam"], segments: [[0, 0.5, 4.5], [1, 4.7, 10], [0, 6, 6.01]] };

test("bars sit where the speech is, in percent, and a short backchannel stays visible", () => {
  const bars = stripBars(SPEECH);
  assert.deepEqual(bars.slice(0, 2).map((b) => [b.speaker, b.left, b.width]), [[0, 2.5, 20], [1, 23.5, 26.5]]);
  assert.equal(bars[2].width, 0.4);
  assert.deepEqual(stripBars({ duration: 0, segments: [[0, 0, 1]] }), []);
});

test("the axis has round ticks, at most eight", () => {
  assert.deepEqual(axisTicks(20).map((t) => [t.seconds, t.anchor]),
    [[0, "start"], [5, "middle"], [10, "middle"], [15, "middle"], [20, "end"]]);
  assert.equal(axisTicks(300).length, 6);   // every minute
  assert.equal(clock(75), "1:15");
  assert.equal(clock(5), "5 s");
});

test("the strip has a row per person with their bars and names", () => {
  const html = stripHtml(SPEECH);
  assert.equal((html.match(/tavid-bar-a/g) ?? []).length, 2);
  assert.equal((html.match(/tavid-bar-b/g) ?? []).length, 1);
  assert.match(html, /A Ada<\/span>/);
  assert.match(html, /left:23\.500%;width:26\.500%/);
  assert.doesNotMatch(html, /tavid-a" title/);
  const voiced = stripHtml({ ...SPEECH, voices: ["reads as female, about 33: heart", "named by hand: joe"] });
  assert.match(voiced, /tavid-a" title="reads as female, about 33: heart">A Ada<\/span>/);
});
