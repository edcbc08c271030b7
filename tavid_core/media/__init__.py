"""Pictures, sound and video in and out, the composed two-person frame and frame strips."""
