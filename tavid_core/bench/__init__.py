"""`tavid bench`: speed and memory of the pack's jobs on the machine at hand (never in timed unit tests)."""
