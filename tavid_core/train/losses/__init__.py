"""Losses shared by training tasks: audio (mel, multi-resolution STFT, adversarial), contrastive."""
