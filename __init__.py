"""ComfyUI-TAVID: two-person conversation video with speech from a text dialogue and two face images.

ComfyUI loads this package and calls `comfy_entrypoint`; the nodes live in ./nodes, the library in
./tavid_core (usable without ComfyUI: see README).

Nothing is imported until ComfyUI calls the entry point, so any tool may import this file on its own:
pytest does, as the package of a checkout whose folder name is an identifier, or as a lone module when
it is not (`ComfyUI-TAVID`), where a relative import at the top would fail.
"""


async def comfy_entrypoint():
    from comfy_api.latest import ComfyExtension, io

    from .nodes import NODES
    from .nodes.runtime import register_model_folders

    class TavidExtension(ComfyExtension):
        async def get_node_list(self) -> list[type[io.ComfyNode]]:
            return list(NODES)

    register_model_folders()
    return TavidExtension()
