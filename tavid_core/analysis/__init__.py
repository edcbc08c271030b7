"""Measuring what faces and voices do: dlib face analysis, speech features and spans of activity."""
