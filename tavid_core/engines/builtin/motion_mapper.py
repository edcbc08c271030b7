"""Built-in motion mapper: both speakers' speech becomes talking and listening motion for both faces.

For each person, from the shared timeline and their own and their partner's speech:
- talking: mouth shapes from phoneme timings (visemes, smoothed for coarticulation, lips shut on
  bilabials), opening scaled by loudness; head motion that follows loudness and pitch; nods on
  emphasised words; brows up on questions;
- listening: mouth closed; nods shortly after the partner's phrase ends; a smile when the partner
  laughs; gaze held on the partner with small saccades;
- always: blinks at a natural, varying rate.
Everything is computed on a 100 Hz grid and sampled at the frame centres.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ...runtime import Runtime
from ...types import EXPR_CHANNELS, Motion, Segment, Speech
from ..protocols import MotionMapper
from .visemes import CLOSED, targets, viseme_of

GRID_HZ = 100.0
MAX_LISTENING_SMILE = 0.18
TURN_TOWARD_PARTNER = 0.03  # radians of yaw: A (left) turns a little right toward B, B left toward A
LISTENER_REACTIONS = ("nod", "double nod", "smile", "brow", "none")
REACTION_ODDS = (0.45, 0.2, 0.17, 0.13, 0.05)
# speech without phone timings: the jaw opens with the loudness (energy 0..1 is -60..0 dBFS; turns are
# levelled to about -20 dBFS, energy 0.67), from UNTIMED_QUIET up, fully UNTIMED_SPAN above it
UNTIMED_QUIET, UNTIMED_SPAN, UNTIMED_JAW = 0.4, 0.3, 0.7


def _smooth(x: np.ndarray, sigma_s: float) -> np.ndarray:
    return gaussian_filter1d(x, sigma_s * GRID_HZ, mode="nearest") if sigma_s > 0 else x


def _add_bump(x: np.ndarray, center: float, width: float, height: float) -> None:
    """Add a raised-cosine pulse of `width` seconds at `center` to a 100 Hz curve, touching only its span."""
    lo, hi = max(0, int((center - width / 2) * GRID_HZ)), min(len(x), int(np.ceil((center + width / 2) * GRID_HZ)) + 1)
    if lo >= hi:
        return
    u = (np.arange(lo, hi) / GRID_HZ - center) / (width / 2)
    x[lo:hi] += height * np.where(np.abs(u) < 1, 0.5 * (1 + np.cos(np.pi * u)), 0.0)


def _smooth_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    """Unit-variance noise without content much above `cutoff_hz`."""
    x = gaussian_filter1d(rng.standard_normal(n + 400), GRID_HZ / (2 * np.pi * cutoff_hz), mode="wrap")[200:-200]
    return x / max(x.std(), 1e-9)


def _feature(speech: Speech, name: str, person: int, n: int) -> np.ndarray:
    """A named speech feature of one person resampled to the 100 Hz grid (zeros if the engine lacks it)."""
    if name not in speech.feature_names:
        return np.zeros(n, np.float32)
    values = speech.feature(name)[person]
    src = np.arange(len(values)) / speech.feature_rate
    return np.interp(np.arange(n) / GRID_HZ, src, values).astype(np.float32)


def _phrase_ends(segments: tuple[Segment, ...], min_pause: float = 0.12) -> list[tuple[float, Segment]]:
    """Times where a speaker finishes a phrase: turn ends, and pauses inside a turn (a comma or full stop
    leaves a gap of about 0.1 s or more between words; words inside a phrase run together)."""
    ends = []
    for seg in segments:
        for a, b in zip(seg.words, seg.words[1:]):
            if b.start_s - a.end_s >= min_pause:
                ends.append((a.end_s, seg))
        ends.append((seg.end_s, seg))
    return ends


class BuiltinMotionMapper(MotionMapper):
    name = "builtin-motion"

    def map(self, speech: Speech, *, runtime: Runtime, fps: float = 25.0, seed: int = 0,
            expressiveness: float = 1.0) -> tuple[Motion, Motion]:
        frames = speech.num_frames(fps)
        n = int(np.ceil(speech.duration_s * GRID_HZ)) + 2
        grid = np.arange(n) / GRID_HZ
        frame_times = (np.arange(frames) + 0.5) / fps
        motions = []
        for person in runtime.steps((0, 1), 2, "motion"):
            rng = np.random.default_rng([seed, person])
            motions.append(self._person(speech, person, grid, frame_times, fps, rng, expressiveness))
        return motions[0], motions[1]

    # ------------------------------------------------------------------------------------------------
    def _person(self, speech, person, grid, frame_times, fps, rng, k) -> Motion:
        own, partner = speech.segments_of(person), speech.segments_of(1 - person)
        n = len(grid)
        energy = _feature(speech, "energy", person, n)
        pitch = _feature(speech, "pitch", person, n)
        speaking = _smooth(speech.activity_at(person, grid), 0.03)
        gate = np.clip(speaking * 1.5, 0, 1)

        jaw, wide, rnd, closures = self._mouth(own, grid, energy)
        expr = {name: np.zeros(n, np.float32) for name in EXPR_CHANNELS}
        expr["jaw_open"], expr["mouth_wide"], expr["mouth_round"] = jaw * gate, wide * gate, rnd * gate
        blink = self._blinks(grid, rng)
        expr["blink_left"] = expr["blink_right"] = blink
        yaw, pitch_angle, roll = self._head(grid, rng, person, speaking, energy, pitch, own, k)
        smile, brow, nods = self._listening(grid, rng, partner, speaking, k)
        brow += self._questions(grid, own) * k
        pitch_angle += nods
        expr["smile"] = np.clip(smile, 0, 1)
        expr["brow_raise"] = np.clip(brow, -1, 1)
        gaze_x, gaze_y = self._gaze(grid, rng, person, speaking)
        expr["gaze_x"], expr["gaze_y"] = gaze_x, gaze_y

        # sample at frame centres; bilabial closures are enforced on the frames they cover
        def at_frames(x):
            return np.interp(frame_times, grid, x).astype(np.float32)

        expr_frames = np.stack([at_frames(expr[c]) for c in EXPR_CHANNELS], axis=1)
        for start, end in closures:
            expr_frames[(frame_times >= start) & (frame_times < end), EXPR_CHANNELS.index("jaw_open")] = 0.0
        pose = np.stack([
            at_frames(yaw), at_frames(pitch_angle), at_frames(roll),
            at_frames(yaw) * 0.15, at_frames(pitch_angle) * 0.1, 1.0 + at_frames(speaking) * 0.004,
        ], axis=1)
        return Motion(fps=fps, pose=pose, expr=expr_frames, speaking=at_frames(speaking), expr_names=EXPR_CHANNELS)

    # ------------------------------------------------------------------------------------------ talking
    def _mouth(self, own, grid, energy):
        n = len(grid)
        jaw, wide, rnd = (np.zeros(n, np.float32) for _ in range(3))
        closures = []
        for seg in own:
            if not seg.phones:  # speech without phone timings (neural voices): the jaw follows the loudness
                i0, i1 = int(seg.start_s * GRID_HZ), int(np.ceil(seg.end_s * GRID_HZ))
                jaw[i0:i1] = np.clip((energy[i0:i1] - UNTIMED_QUIET) / UNTIMED_SPAN, 0, 1) * UNTIMED_JAW
            for phone in seg.phones:
                i0, i1 = int(phone.start_s * GRID_HZ), max(int(phone.end_s * GRID_HZ), int(phone.start_s * GRID_HZ) + 1)
                j, w, r = targets(phone.symbol)
                jaw[i0:i1], wide[i0:i1], rnd[i0:i1] = j, w, r
                if viseme_of(phone.symbol) in CLOSED:
                    d = phone.end_s - phone.start_s
                    closures.append((phone.start_s + 0.2 * d, phone.end_s - 0.2 * d))
        # coarticulation: neighbouring shapes blend; a slightly narrower blur for the jaw keeps it crisp
        jaw, wide, rnd = _smooth(jaw, 0.025) * 1.15, _smooth(wide, 0.04), _smooth(rnd, 0.04)
        loud = np.clip((energy - 0.35) / 0.35, 0, 1)
        jaw = np.clip(jaw * (0.45 + 0.75 * loud), 0, 1)
        for start, end in closures:
            jaw[int(start * GRID_HZ):int(np.ceil(end * GRID_HZ))] = 0.0
        return jaw, np.clip(wide, -1, 1), np.clip(rnd, 0, 1), closures

    def _head(self, grid, rng, person, speaking, energy, pitch, own, k):
        n = len(grid)
        drive = 0.25 + 0.75 * speaking * np.clip(energy / 0.7, 0, 1)   # calmer while listening
        yaw = 0.045 * k * _smooth_noise(rng, n, 0.35) * drive + TURN_TOWARD_PARTNER * k * (1 if person == 0 else -1)
        roll = 0.025 * k * _smooth_noise(rng, n, 0.3) * drive
        # the head rises a little with the voice's pitch and dips on emphasised words
        voiced_pitch = np.where(pitch != 0, pitch, np.nan)
        centre = np.nanmedian(voiced_pitch) if np.isfinite(voiced_pitch).any() else 0.0
        relative = voiced_pitch - centre
        relative -= np.round(relative)  # pitch is in octaves: fold the tracker's octave jumps back
        lift = _smooth(np.nan_to_num(relative) * speaking, 0.15)
        pitch_angle = 0.03 * k * _smooth_noise(rng, n, 0.3) * drive - 0.06 * k * lift
        for seg in own:
            for word in seg.words:
                if len(word.text) >= 4 and rng.random() < 0.35:
                    _add_bump(pitch_angle, word.start_s + 0.12, 0.35, 0.035 * k)
        return yaw, pitch_angle, roll

    def _questions(self, grid, own):
        brow = np.zeros(len(grid))
        for seg in own:
            if seg.text.rstrip().endswith("?"):
                last = seg.words[-1].start_s if seg.words else seg.end_s - 0.4
                _add_bump(brow, (last + seg.end_s) / 2, max(seg.end_s - last, 0.3) + 0.5, 0.6)
        return _smooth(brow, 0.05)

    # ---------------------------------------------------------------------------------------- listening
    def _listening(self, grid, rng, partner, speaking, k):
        n = len(grid)
        listening = 1.0 - speaking
        nods = np.zeros(n)
        smile = 0.08 + 0.04 * _smooth_noise(rng, n, 0.1)
        brow = np.zeros(n)
        for end, seg in _phrase_ends(partner):
            # a backchannel after (nearly) every phrase, drawn from a few kinds so it never repeats exactly
            kind = rng.choice(LISTENER_REACTIONS, p=REACTION_ODDS)
            at = end + rng.uniform(0.3, 0.55)  # listeners answer a phrase a few hundred ms after it ends
            depth = rng.uniform(0.05, 0.09) * k
            if kind != "none":
                _add_bump(nods, at, rng.uniform(0.4, 0.6), depth * (0.6 if kind == "smile" else 1.0))
            if kind == "double nod":
                _add_bump(nods, at + 0.45, 0.4, 0.6 * depth)
            elif kind == "smile":
                _add_bump(smile, at + 0.1, rng.uniform(0.8, 1.4), 0.25)
            elif kind == "brow":   # a brow flash comes with a slight lift of the head, as the face opens up
                _add_bump(brow, at, 0.7, 0.35)
                _add_bump(nods, at, 0.5, -0.5 * depth)
            if seg.text.rstrip().endswith("?") and end == seg.end_s:
                _add_bump(brow, end + 0.2, 0.8, 0.3)
        for seg in partner:
            if "laughs" in seg.tags or "smiles" in seg.tags or "haha" in seg.text.lower():
                smile += 0.3 * _smooth(((grid >= seg.start_s) & (grid < seg.end_s + 1.0)).astype(np.float32), 0.2)
        # a closed-lip smile: pulled further, the warped lips of a photo start to part
        smile = np.minimum(smile * (0.5 + 0.5 * listening) * k, MAX_LISTENING_SMILE)
        return smile, brow * listening, nods * listening

    def _gaze(self, grid, rng, person, speaking):
        n = len(grid)
        toward = 0.25 if person == 0 else -0.25   # A sits on the left, so looks right at B, and back
        # small saccades: the gaze target jumps every 0.4-2 s
        jumps = np.zeros(n)
        t = 0.0
        while t < grid[-1]:
            t += rng.uniform(0.4, 2.0)
            jumps[int(t * GRID_HZ):] = rng.normal(0, 0.06)
        aversion = 0.15 * _smooth(speaking * (_smooth_noise(rng, n, 0.15) > 0.8), 0.1)  # look away now and then
        gx = toward * (1 - aversion) + _smooth(jumps, 0.02)
        gy = _smooth(np.roll(jumps, 37), 0.02) * 0.5 + 0.1 * aversion
        return np.clip(gx, -1, 1), np.clip(gy, -1, 1)

    # --------------------------------------------------------------------------------------------- eyes
    def _blinks(self, grid, rng):
        blink = np.zeros(len(grid))
        t = rng.uniform(0.3, 2.0)
        while t < grid[-1]:
            length = rng.uniform(0.12, 0.2)
            lo, hi = int(t * GRID_HZ), min(len(grid), int((t + length) * GRID_HZ) + 2)
            local = grid[lo:hi] - t
            shape = np.minimum(local / (0.4 * length), 1 - (local - 0.4 * length) / (0.6 * length))  # fast close, slower open
            blink[lo:hi] = np.maximum(blink[lo:hi], np.clip(shape, 0, 1))
            t += length + rng.gamma(4.0, 0.9)  # about 3.6 s apart, varying
        return blink
