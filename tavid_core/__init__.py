"""ComfyUI-TAVID's library: two-person conversation video with speech from a text dialogue and two faces.

It never imports ComfyUI; the node pack in ../nodes adapts it. Start with `TavidPipeline`; the layout and
how to add an engine are in docs/architecture.md.
"""
from .dialogue import parse_script, read_script
from .errors import TavidError
from .media.images import load_image
from .pipeline import GenerateResult, GenerateSettings, TavidPipeline
from .types import Dialogue, Motion, Speech, Turn, Voice

__version__ = "0.1.0"
__all__ = ["parse_script", "read_script", "TavidError", "load_image", "GenerateResult", "GenerateSettings",
           "TavidPipeline", "Dialogue", "Motion", "Speech", "Turn", "Voice", "__version__"]
