"""Training data: manifests of clips and of two-person conversations, their preparation (crops, landmarks, fitted
Motion labels, speech) and synthetic data from the built-in engines.
"""
