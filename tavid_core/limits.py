"""Allowed values of the generation settings, shared by the library, the CLI and the nodes. Nothing
heavy is imported here, so `tavid --help` stays instant."""

MIN_SIZE, MAX_SIZE = 64, 2048      # pixels per face, even
MIRROR_MODES = ("auto", "never")   # auto: mirror a photo whose face is turned away from the partner
SPEAKERS = ("a", "b")              # suffixes of the per-speaker settings
PITCH_SHIFT_RANGE = (-6.0, 6.0)    # semitones added to a mapped voice
SPEED_RANGE = (0.5, 2.0)           # times the mapped speaking rate
SEED_RANGE = (0, 2**64 - 1)        # ComfyUI's own seed range (KSampler), so seeds copy across nodes
STEPS_RANGE = (1, 1000)            # sampling steps of neural engines
MAX_MINUTES = 15.0                 # default longest dialogue (minutes of speech); raise it with --max-minutes
MAX_MINUTES_RANGE = (0.1, 240.0)   # the memory stays flat, so the limit guards time, not memory
MAX_HEADER_BYTES = 100 * 2**20     # largest safetensors header read (safetensors caps it near 100 MB too)
MAX_NAME_BYTES = 200               # longest part of an output file name, leaving room for counter and suffix

# Script limits. A turn is one line of a script; the built-in voices speak about 18 characters a
# second, so 4,000 characters is nearly four minutes of one person talking, far beyond a conversational
# turn, and the joe voice alone needs about 20 s of CPU for it (10,000 took 45 s, before any video).
# Longer text is almost always a pasted document: split it into several turns of the same speaker.
# parse_script(max_turn_chars=...) takes another limit, or None for none.
MAX_TURN_CHARS = 4000
MAX_PAUSE_S = 60.0                 # longest silence between two turns ([pause:...], summed when repeated)

# Names a face model's sampler and scheduler may take; "auto" lets the engine choose.
SAMPLERS = ("auto", "ddim", "euler", "euler_ancestral", "dpmpp_2m", "unipc", "flow_euler")
SCHEDULERS = ("auto", "normal", "karras", "exponential", "sgm_uniform", "simple")
