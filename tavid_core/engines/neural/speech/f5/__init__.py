"""F5-TTS v1 Base with the Vocos mel-24khz vocoder: the public pretrained weights in our own networks.

The networks are the speech block's own layers (DiT blocks, final norm, position convolutions, rotary
positions, the Vocos backbone, the log-mel), laid out for the public files by a declared key mapping
(keymap.py); only what F5-TTS does differently has modules of its own (its text encoder, the "same"
padded inverse STFT). Behind the one SpeechGenerator protocol: each person's voice prompt (a recording and
its transcript, or a built-in voice saying a fixed sentence) is imitated, turn after turn, on our timeline.
"""
