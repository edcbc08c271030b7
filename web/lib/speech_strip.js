// Who speaks when, drawn under the Speech Generator after a run: one row per person, a bar for each stretch
// of their speech (turns, and the backchannels they say over the other's turn), and a time axis.
import { escapeHtml } from "./html.js";

// Bars in percent of the strip's width: [{speaker, left, width, start, end}], narrow ones widened to be seen.
export function stripBars(speech, minWidth = 0.4) {
  const duration = Number(speech?.duration) || 0;
  if (duration <= 0) return [];
  return (speech.segments ?? []).map(([speaker, start, end]) => {
    const left = (100 * start) / duration;
    const width = Math.max((100 * (end - start)) / duration, minWidth);
    return { speaker, left: Math.min(left, 100 - width), width, start, end };
  });
}

// Ticks for the time axis: a round step that gives at most `most` of them; a label near an end is
// anchored inside the strip ("start", "end"), the others centred on their time.
export function axisTicks(duration, most = 8) {
  if (!(duration > 0)) return [];
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800];
  const step = steps.find((s) => duration / s <= most) ?? Math.ceil(duration / most);
  const ticks = [];
  for (let t = 0; t <= duration + 1e-9; t += step) {
    const left = (100 * t) / duration;
    ticks.push({ seconds: t, left, anchor: left < 4 ? "start" : left > 92 ? "end" : "middle" });
  }
  return ticks;
}

export function clock(seconds) {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : `${s} s`;
}

export function stripHtml(speech) {
  if (!speech) return "";
  const names = speech.speakers ?? ["A", "B"];
  const rows = [0, 1].map((who) => {
    const bars = stripBars(speech).filter((b) => b.speaker === who).map((b) =>
      `<div class="tavid-bar tavid-bar-${"ab"[who]}" style="left:${b.left.toFixed(3)}%;width:${b.width.toFixed(3)}%" ` +
      `title="${escapeHtml(`${names[who]}: ${b.start.toFixed(2)}-${b.end.toFixed(2)} s`)}"></div>`).join("");
    const voice = speech.voices?.[who];   // the voice as spoken and why, on hover
    const title = voice ? ` title="${escapeHtml(voice)}"` : "";
    return `<div class="tavid-strip-row"><span class="tavid-strip-name tavid-${"ab"[who]}"${title}>${"AB"[who]} ` +
      `${escapeHtml(names[who])}</span><div class="tavid-strip-track">${bars}</div></div>`;
  }).join("");
  const ticks = axisTicks(speech.duration).map((t) => `<span class="tavid-tick tavid-tick-${t.anchor}" ` +
    `style="left:${t.left.toFixed(3)}%">${clock(t.seconds)}</span>`).join("");
  return `${rows}<div class="tavid-strip-row"><span class="tavid-strip-name"></span>` +
    `<div class="tavid-strip-axis">${ticks}</div></div>`;
}
