"""What the examples and the main job run on: the example dialogue script of the repository checkout and
the two sample portraits that ship inside wheels."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import TavidError
from .media.images import as_uint8_rgb, load_image

EXAMPLE_SCRIPT = Path(__file__).resolve().parent.parent / "workflows" / "example_dialogue.txt"


def example_script_path() -> str:
    if not EXAMPLE_SCRIPT.is_file():
        raise TavidError("the example script ships with the repository checkout and is not here",
                         where="--script", fix="Pass your own script: --script dialogue.txt")
    return str(EXAMPLE_SCRIPT)


SAMPLE_PORTRAITS = ("grace_hopper", "astronaut")


def sample_portrait(name: str) -> np.ndarray:
    """The two demo portraits that ship inside wheels: matplotlib's Grace Hopper, scikit-image's astronaut."""
    if name == "grace_hopper":
        from matplotlib import cbook
        return load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if name == "astronaut":
        from skimage import data
        return as_uint8_rgb(data.astronaut())
    raise TavidError(f"unknown sample portrait {name!r}; choose one of {SAMPLE_PORTRAITS}", where="sample portrait")
