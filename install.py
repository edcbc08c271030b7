"""What `pip install -r requirements.txt` cannot express: OpenCV only when this Python has none.

OpenCV comes as four packages (opencv-python, -headless, -contrib-python, -contrib-python-headless) that all
unpack into the same cv2/ folder. A ComfyUI often has one already (another node pack brought it); adding a
second puts two packages into that one folder, and uninstalling either later deletes cv2 for both. So the pack
uses whichever OpenCV is there, and installs opencv-python-headless only into a Python without any. Run it
with ComfyUI's Python, from this folder (ComfyUI-Manager runs it after installing the requirements):

    python -m pip install -r requirements.txt && python install.py
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys

OPENCV_PACKAGES = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")
OPENCV = "opencv-python-headless>=4.8,<6"   # as in pyproject.toml; tested with OpenCV 4 and 5
MAJOR_VERSIONS = ("4", "5")


def installed_opencv() -> list[tuple[str, str]]:
    """(package, version) of every OpenCV package this Python has."""
    found = []
    for name in OPENCV_PACKAGES:
        try:
            found.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def main() -> int:
    found = installed_opencv()
    if found:
        for name, version in found:
            print(f"ComfyUI-TAVID: using the OpenCV already installed: {name} {version}")
        if len(found) > 1:
            print("ComfyUI-TAVID: note: several OpenCV packages share one cv2 folder here; uninstalling one of "
                  "them removes cv2 for all (reinstall the one you keep with --force-reinstall --no-deps)")
        if not any(version.split(".")[0] in MAJOR_VERSIONS for _, version in found):
            print("ComfyUI-TAVID: warning: the pack is tested with OpenCV 4 and 5 only")
        return 0
    if importlib.util.find_spec("cv2") is not None:   # an OpenCV built or packaged outside pip
        print("ComfyUI-TAVID: using the cv2 module this Python has (not installed by pip)")
        return 0
    print(f"ComfyUI-TAVID: this Python has no OpenCV; installing {OPENCV}")
    return subprocess.call([sys.executable, "-m", "pip", "install", OPENCV])


if __name__ == "__main__":
    sys.exit(main())
