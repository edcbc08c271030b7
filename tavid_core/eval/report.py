"""The evaluation report: every metric's key, label, unit and meaning in one table, the JSON layout,
and the text `tavid eval` prints.

JSON layout (key names are stable; a missing measurement is null):

    {"version": 2, "video": {...}, "reference": {...},
     "realism":   {"A": {...}, "B": {...}, "overall": {...}},
     "listening": {"A": {...}, "B": {...}, "overall": {...}},
     "fluency":   {"A": {...}, "B": {...}, "overall": {...}},
     "speech":    {"A": {...}, "B": {...}, "overall": {...}},
     "seconds":   {...}}

Each metric says how its "overall" value is made: the mean, sum or worst of A and B, measured on
the whole conversation, or not given (a per-person property such as pitch). Conversation-level
metrics have no A and B values.
"""
from __future__ import annotations

from dataclasses import dataclass

REPORT_VERSION = 2   # 2: keys added (lip sync against chance, Whisper, voices); none renamed
PEOPLE = ("A", "B")


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str            # shown after the number; "" for plain ratios
    digits: int
    meaning: str
    better: str = ""     # "higher", "lower", "≈0", "≈1" ...
    overall: str = "mean"  # "mean", "sum", "max" of A and B; "measured" on both; "none"
    per_person: bool = True


SECTIONS: dict[str, tuple[str, tuple[Metric, ...]]] = {
    "realism": ("1. Talking-face realism", (
        Metric("identity_distance", "identity distance", "", 3,
               "dlib 128-d L2 distance to the reference image (or the first frame), mean over sampled frames; "
               "under 0.6 is the same person", "lower"),
        Metric("identity_distance_max", "identity distance, worst", "", 3, "the largest of those distances", "lower",
               overall="max"),
        Metric("lip_sync_corr", "lip sync correlation", "", 3,
               "correlation of mouth opening with the speaker's loudness, at the best lag (raw: a still or "
               "unrelated mouth reaches the chance level, lip_sync_null)", "higher"),
        Metric("lip_sync_excess", "lip sync above chance", "", 3,
               "that correlation above its chance level, as a share of the way from there to 1; 0 for a mouth "
               "that does not move", "higher"),
        Metric("lip_sync_null", "lip sync by chance", "", 3,
               "mean best-lag correlation with the sound shifted by seconds: what no sync scores", "lower"),
        Metric("lip_sync_p", "lip sync p-value", "", 3,
               "share of those shifts scoring as high (how likely the sync is chance); 1 without mouth motion",
               "lower"),
        Metric("mouth_motion", "mouth motion over noise", "", 1,
               "spread of the mouth opening while speaking over landmark noise; under 4 is no mouth motion",
               "higher"),
        Metric("av_offset_frames", "audio-video offset", "frames", 0,
               "lag of the best correlation; positive: the sound comes after the mouth (none without mouth "
               "motion)", "≈0"),
        Metric("jitter", "landmark jitter", "‰", 1,
               "RMS distance of head landmarks from their 5-frame average, thousandths of the face size", "lower"),
        Metric("sharpness_ratio", "sharpness vs reference", "", 2,
               "Laplacian variance of the face crop over that of the reference", "≈1"),
        Metric("face_found_share", "face found", "", 2, "share of frames near a face detection", "≈1"),
    )),
    "listening": ("2. Listening responsiveness", (
        Metric("mouth_closed_share", "mouth closed while listening", "", 2,
               "share of the partner's speaking frames with this mouth closed (lips together, or with MediaPipe "
               "a shut jaw behind parted lips)", "higher"),
        Metric("head_motion_listening", "head motion, listening", "", 4,
               "mean squared head speed (face sizes per second) while the partner speaks"),
        Metric("head_motion_silence", "head motion, silence", "", 4, "the same while nobody speaks"),
        Metric("head_motion_ratio", "head motion ratio", "", 2,
               "listening over silence: above 1 means the listener moves with the conversation", "higher"),
        Metric("phrase_ends", "partner phrase ends", "", 0,
               "the partner's phrase ends followed by a second without this person speaking", overall="sum"),
        Metric("reaction_share", "reactions within 1 s", "", 2,
               "share of those phrase ends followed by a nod, blink or smile within 1 s", "higher"),
        Metric("motion_corr", "speaker-listener motion corr.", "", 3,
               "best correlation of the speaker's head speed with this listener's, listener 0-1 s behind",
               "higher"),
        Metric("motion_lag_s", "motion lag", "s", 2, "the listener delay of that best correlation", overall="none"),
    )),
    "fluency": ("3. Dyadic fluency", (
        Metric("speech_s", "speech", "s", 1, "seconds of speech given to this person", overall="sum"),
        Metric("turns", "turns", "", 0, "stretches of this person's speech", overall="sum"),
        Metric("onset_error_ms", "onset error vs timeline", "ms", 0,
               "mean |detected start - timeline start| of this person's turns (needs a timeline)", "lower"),
        Metric("offset_error_ms", "offset error vs timeline", "ms", 0,
               "mean |detected end - timeline end| (needs a timeline)", "lower"),
        Metric("detected_share", "timeline turns heard", "", 2,
               "share of timeline turns where speech was detected", "≈1"),
        Metric("attribution_agreement", "speech on the right face", "", 3,
               "share of this person's timeline speech that the faces alone give to this person", "≈1"),
        Metric("speech_share", "speech share", "", 2, "share of the video with speech", per_person=False, overall="measured"),
        Metric("floor_transfers", "floor transfers", "", 0, "changes of speaker", per_person=False, overall="measured"),
        Metric("fto_median_s", "floor-transfer offset, median", "s", 3,
               "next start minus previous end; negative is overlap", per_person=False, overall="measured"),
        Metric("fto_p10_s", "floor-transfer offset, p10", "s", 3, "10th percentile", per_person=False, overall="measured"),
        Metric("fto_p90_s", "floor-transfer offset, p90", "s", 3, "90th percentile", per_person=False, overall="measured"),
        Metric("overlap_share", "unintended overlap", "", 3,
               "share of speech time with both faces talking that the timeline did not ask for (stretches of "
               "0.1 s or more)", "lower",
               per_person=False, overall="measured"),
        Metric("gap_error_ms", "gap error vs timeline", "ms", 0,
               "mean |heard gap - timeline gap| between consecutive turns: floor transfers and script pauses "
               "(needs a timeline)", "lower", per_person=False, overall="measured"),
        Metric("gap_error_max_ms", "gap error, worst", "ms", 0, "the largest of those errors", "lower",
               per_person=False, overall="measured"),
        Metric("long_silences", "silences over 2 s", "", 0, "gaps in the speech longer than 2 s", "lower",
               per_person=False, overall="measured"),
        Metric("long_silence_s", "time in those silences", "s", 1, "their total length", "lower",
               per_person=False, overall="measured"),
    )),
    "speech": ("4. Speech quality", (
        Metric("dnsmos_sig", "DNSMOS SIG", "", 2, "speech signal quality, 1-5 (speechmos)", "higher"),
        Metric("dnsmos_bak", "DNSMOS BAK", "", 2, "background quietness, 1-5", "higher"),
        Metric("dnsmos_ovrl", "DNSMOS OVRL", "", 2, "overall quality, 1-5", "higher"),
        Metric("wer", "word error rate", "", 3,
               "Whisper tiny.en (pocketsphinx without it: see the report's words_by) against the script (needs a "
               "timeline or script)", "lower", overall="measured"),
        Metric("word_timing_ms", "word timing error", "ms", 0,
               "median |heard start - timeline start| of the words heard right (Whisper, timeline with words)",
               "lower", overall="measured"),
        Metric("pitch_median_hz", "pitch, median", "Hz", 0, "median F0 of the voiced frames", overall="none"),
        Metric("pitch_p10_hz", "pitch, p10", "Hz", 0, "10th percentile", overall="none"),
        Metric("pitch_p90_hz", "pitch, p90", "Hz", 0, "90th percentile", overall="none"),
        Metric("pitch_range_st", "pitch range", "st", 1, "p90 over p10 in semitones: flat voices score low",
               overall="none"),
        Metric("voice_consistency", "one voice throughout", "", 3,
               "mean cosine of this person's speech pieces (speaker encoder) to their centroid", "higher"),
        Metric("voice_separation", "voices told apart", "", 3,
               "how much closer a piece is to the rest of its person's than to the other person's: 0 for one "
               "voice", "higher", per_person=False, overall="measured"),
        Metric("voice_similarity", "voice similarity", "", 3, "cosine of the two people's voice centroids", "lower",
               per_person=False, overall="measured"),
        Metric("face_age_years", "face's apparent age", "y", 0,
               "apparent age of the reference photo (or first frame) by the age network", overall="none"),
        Metric("face_male_prob", "face reads as a man", "", 2,
               "probability by the sex network (a guess about appearance)", overall="none"),
        Metric("voice_male_prob", "voice reads as a man", "", 2,
               "from the median pitch: 0.5 at 160 Hz, 0.84 at 140 Hz, 0.16 at 180 Hz", overall="none"),
        Metric("voice_face_match", "voice suits the face", "", 2,
               "1 when the median pitch is in the range expected for the face's apparent age and sex", "≈1"),
    )),
}


def metric_keys() -> dict[str, list[str]]:
    return {section: [m.key for m in metrics] for section, (_, metrics) in SECTIONS.items()}


_COMBINE = {"mean": lambda v: sum(v) / len(v), "sum": sum, "max": max}


def with_overall(section: str, per_person: dict[str, dict], measured: dict | None = None) -> dict:
    """{"A", "B", "overall"} for a section, in the registry's key order. `measured` holds the
    values taken on the whole conversation."""
    _, metrics = SECTIONS[section]
    measured = measured or {}
    out = {p: {m.key: per_person[p].get(m.key) for m in metrics if m.per_person} for p in PEOPLE}
    out["overall"] = {}
    for m in metrics:
        values = [out[p][m.key] for p in PEOPLE if m.per_person and out[p][m.key] is not None]
        if m.overall == "measured":
            value = measured.get(m.key)
        elif m.overall in _COMBINE and values:
            value = _COMBINE[m.overall](values)
        else:
            value = None
        out["overall"][m.key] = value
    return out


def rounded(report: dict) -> dict:
    """The report with every metric rounded to its display precision (plus two digits)."""
    out = dict(report)
    for section, (_, metrics) in SECTIONS.items():
        digits = {m.key: m.digits + 2 for m in metrics}
        out[section] = {who: {k: (round(v, digits[k]) if isinstance(v, float) else v) for k, v in values.items()}
                        for who, values in report[section].items()}
    return out


def _cell(metric: Metric, value) -> str:
    if value is None:
        return "–"
    text = f"{value:.{metric.digits}f}" if isinstance(value, float) else str(value)
    return f"{text} {metric.unit}".rstrip() if metric.unit else text


def report_tables(report: dict) -> dict:
    """The report as display tables, what `format_report` prints and the pack's frontend draws in the
    Evaluate node: a heading, then per section a title, the column heads and one row per metric (its label,
    its cells as text, what is better, what it means)."""
    video, ref = report["video"], report["reference"]
    names = ref.get("names") or list(PEOPLE)
    source = f" ({ref['source']})" if ref.get("source") not in (None, "none") else ""
    heading = [f"{video['name']}: {video['duration_s']:.1f} s, {video['frames']} frames at {video['fps']:g} fps, "
               f"{video['width']}x{video['height']}", f"who speaks when: from the {ref['speakers_from']}{source}"]
    used = [f"{label} {ref[key]}" for key, label in (("landmarks", "faces"), ("words_by", "words"),
                                                       ("voices_by", "voices"), ("age_sex_by", "age and sex"))
            if ref.get(key)]
    if used:
        heading.append("measured with: " + "; ".join(used))
    heading += [f"note: {note}" for note in ref.get("notes") or ()]
    sections = []
    for section, (title, metrics) in SECTIONS.items():
        data = report[section]
        rows = [{"label": m.label, "better": m.better, "meaning": m.meaning,
                 "cells": [(_cell(m, data[p].get(m.key)) if m.per_person else "") for p in PEOPLE]
                 + [_cell(m, data["overall"].get(m.key))]} for m in metrics]
        sections.append({"title": title, "heads": [f"A {names[0]}"[:14], f"B {names[1]}"[:14], "overall"],
                         "rows": rows})
    seconds = report.get("seconds", {})
    footer = "evaluated in " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()) if seconds else ""
    return {"heading": heading, "sections": sections, "footer": footer}


def format_report(report: dict) -> str:
    """The four sections as aligned text tables."""
    tables = report_tables(report)
    lines = list(tables["heading"])
    for table in tables["sections"]:
        lines += ["", table["title"], f"  {'':34}" + "".join(f"{h:>16}" for h in table["heads"])]
        for row in table["rows"]:
            hint = f"  ({row['better']})" if row["better"] else ""
            lines.append(f"  {row['label']:34}" + "".join(f"{c:>16}" for c in row["cells"]) + hint)
    if tables["footer"]:
        lines += ["", tables["footer"]]
    return "\n".join(lines)
