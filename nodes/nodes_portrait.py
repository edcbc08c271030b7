"""TAVID Load Portrait: a face photo from ComfyUI's input folder, or one of the two sample portraits that come
with the pack's dependencies, so that a template runs as it opens with no file to copy."""
from __future__ import annotations

from comfy_api.latest import io

from ..tavid_core.examples import SAMPLE_PORTRAITS, sample_portrait
from ..tavid_core.media.images import load_image
from . import sockets
from .convert import image_batch
from .errors import node_errors
from .runtime import file_in, input_fingerprint, input_folder, input_images

SAMPLE = "sample: "   # how the list names the samples; a picture in input/ named so is left out of it


def portrait_options() -> list[str]:
    return [SAMPLE + name for name in SAMPLE_PORTRAITS] + [n for n in input_images() if not n.startswith(SAMPLE)]


def portrait_path(name: str) -> str:
    """The file of a portrait from the input folder (never a place outside it)."""
    return file_in([input_folder()], name, "portrait", "the input folder",
                   "Pick a picture from the list; put your own into ComfyUI/input and refresh (R).")


def load_portrait(name: str):
    """uint8 RGB of a sample ("sample: astronaut") or of a picture in the input folder."""
    if name.startswith(SAMPLE):
        return sample_portrait(name[len(SAMPLE):])
    return load_image(portrait_path(name))


class LoadPortrait(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        options = portrait_options()
        return io.Schema(
            node_id="TAVIDLoadPortrait",
            display_name="TAVID Load Portrait",
            category=sockets.CATEGORY,
            description="A photo of one person: one of the two sample portraits (Grace Hopper from matplotlib, the "
                        "astronaut Eileen Collins from scikit-image), or any picture in ComfyUI/input (upload one "
                        "with a Load Image node, or copy it there, then refresh with R).",
            inputs=[io.Combo.Input("portrait", options=options, default=options[0],
                                   tooltip="A sample portrait, or a picture from ComfyUI/input.")],
            outputs=[io.Image.Output("image", display_name="portrait", tooltip="The photo as an IMAGE.")],
        )

    @classmethod
    def fingerprint_inputs(cls, portrait: str):
        """A file replaced under the same name is read again."""
        return input_fingerprint(portrait, portrait.startswith(SAMPLE), portrait_path)

    @classmethod
    def execute(cls, portrait: str) -> io.NodeOutput:
        with node_errors("TAVID Load Portrait"):
            return io.NodeOutput(image_batch(load_portrait(portrait)))


NODES = [LoadPortrait]
