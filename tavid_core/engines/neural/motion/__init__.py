"""The neural motion mapper: a transformer over time that turns both people's speech into each person's
Motion (head pose, expression channels, optional latent codes) by conditional flow matching, so the
motion is sampled (varied, stochastic) rather than predicted as one average.

config.py (sizes, presets), features.py (what it reads), net.py (the network), generate.py (windows of
sampling), training.py (batches and losses), engine.py (the MotionMapper engine), loader.py (from a checkpoint).
"""
