"""Where users keep the public LivePortrait weights and what the five files are called.

ComfyUI's LivePortrait packs keep the safetensors conversion of KwaiVGI's human model (Hugging Face
Kijai/LivePortrait_safetensors, fp32, MIT licence) in ComfyUI/models/liveportrait/; the originals are .pth
files (KwaiVGI/LivePortrait on Hugging Face) that `tavid convert` turns into the same five files.
"""
from __future__ import annotations

import os
from typing import Sequence

FOLDER = "liveportrait"   # ComfyUI/models/liveportrait, the folder ComfyUI's LivePortrait packs use
SAFETENSORS_REPO = "Kijai/LivePortrait_safetensors"
ORIGINALS_REPO = "KwaiVGI/LivePortrait"
# network group -> public file name
FILES = {
    "appearance": "appearance_feature_extractor.safetensors",
    "motion": "motion_extractor.safetensors",
    "warping": "warping_module.safetensors",
    "generator": "spade_generator.safetensors",
    "stitching_retargeting": "stitching_retargeting_module.safetensors",
}
NAMES = tuple(FILES.values())
DOWNLOAD_FIX = (f"Put the five LivePortrait .safetensors files ({', '.join(NAMES)}) from the Hugging Face repository "
                f"{SAFETENSORS_REPO} into one folder (ComfyUI/models/{FOLDER}/), or convert the .pth originals of "
                f"{ORIGINALS_REPO} with: tavid convert <files> -o <folder>.")


def is_liveportrait_file(path: str) -> bool:
    return os.path.basename(path) in NAMES


def split_liveportrait(paths: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(public file name -> path for the LivePortrait files among `paths`, the other paths in order)."""
    found = {os.path.basename(p): p for p in paths if is_liveportrait_file(p)}
    return found, [p for p in paths if not is_liveportrait_file(p)]


def folder_files(folder: str) -> dict[str, str]:
    """The five file paths of a folder, whether they exist or not (the loader says which are missing)."""
    return {name: os.path.join(folder, name) for name in NAMES}


def liveportrait_folders(roots: Sequence[str]) -> list[str]:
    """The folders under `roots` (themselves included) that hold at least one of the five files, as paths
    relative to their root ("." for a root itself); the animal model's subfolder is listed like any other."""
    found = set()
    for root in roots:
        for here, _, names in os.walk(root, followlinks=True):
            if any(n in NAMES for n in names):
                found.add(os.path.relpath(here, root).replace(os.sep, "/"))
    return sorted(found)
