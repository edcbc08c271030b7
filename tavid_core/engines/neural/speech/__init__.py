"""The neural speech side: text encoder, speech DiT, vocoder and speaker mapper, trained and loaded together."""
