"""The neural face models: TAVID's latent diffusion of a person's face in windows (model.py), and LivePortrait's
public weights (liveportrait/), both driven by any Motion."""
