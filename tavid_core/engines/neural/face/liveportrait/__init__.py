"""LivePortrait (KwaiVGI, MIT licence) as a TAVID face engine: the human model's inference networks written from
the published architecture, the public safetensors files loaded and checked, driven by any Motion.

networks: appearance.py (F), motion.py (M), warping.py (W), generator.py (G), retargeting.py (S, R_lip, R_eye),
built from config.py by networks.py; the public files: files.py (names, folders), layout.py (their tensor
names), loader.py; keypoints.py (the keypoint algebra), expressions.py and driving.py (Motion -> keypoints),
landmarks.py and crop.py (crop and paste-back), engine.py (the FaceModel), convert.py (`tavid convert`).
"""
