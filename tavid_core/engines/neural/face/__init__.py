"""The neural face model: latent diffusion of a person's face in windows, driven by any Motion."""
