"""Allowed values of the generation settings, shared by the library, the CLI and the nodes. Nothing
heavy is imported here, so `tavid --help` stays instant."""

MIN_SIZE, MAX_SIZE = 64, 2048      # pixels per face, even
MIRROR_MODES = ("auto", "never")   # auto: mirror a photo whose face is turned away from the partner
SPEAKERS = ("a", "b")              # suffixes of the per-speaker settings
PITCH_SHIFT_RANGE = (-6.0, 6.0)    # semitones added to a mapped voice
SPEED_RANGE = (0.5, 2.0)           # times the mapped speaking rate
