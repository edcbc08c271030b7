"""ComfyUI-TAVID's library: two-person conversation video with speech from a text dialogue and two faces.

It never imports ComfyUI; the node pack in ../nodes adapts it. Start with `TavidPipeline`.
"""
from .dialogue import parse_script, read_script
from .errors import TavidError
from .pipeline import GenerateResult, GenerateSettings, TavidPipeline
from .types import Dialogue, Motion, Speech, Turn, Voice

__version__ = "0.1.0"
__all__ = ["parse_script", "read_script", "TavidError", "GenerateResult", "GenerateSettings", "TavidPipeline",
           "Dialogue", "Motion", "Speech", "Turn", "Voice", "__version__"]
