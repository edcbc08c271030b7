"""The pack's two HTTP routes, for its frontend extension (web/): a sample portrait's picture, shown in TAVID
Load Portrait before anything runs, and how the parser reads a dialogue script, for the script's colours and
the line of its first mistake. Both answer from the library; neither writes anything."""
from __future__ import annotations

import functools
import io


def add_routes() -> None:
    """Register the routes with ComfyUI's server (called once, from the pack's entry point)."""
    try:
        from aiohttp import web
        from server import PromptServer
        routes = PromptServer.instance.routes
    except (ImportError, AttributeError):   # no ComfyUI server (tests, scripts)
        return

    @routes.get("/tavid/sample_portrait")
    async def sample_portrait(request):
        from ..tavid_core.examples import SAMPLE_PORTRAITS
        name = request.query.get("name", "")
        if name not in SAMPLE_PORTRAITS:
            return web.Response(status=404, text=f"no sample portrait {name!r}")
        return web.Response(body=_sample_png(name), content_type="image/png",
                            headers={"Cache-Control": "max-age=86400"})

    @routes.post("/tavid/script_outline")
    async def script_outline(request):
        from ..tavid_core.dialogue import script_outline
        try:
            body = await request.json()
            text, names = str(body.get("script", "")), (body.get("speaker_a") or None, body.get("speaker_b") or None)
        except (ValueError, AttributeError):
            return web.Response(status=400, text='expected JSON {"script": ..., "speaker_a": ..., "speaker_b": ...}')
        return web.json_response(script_outline(text, names))


@functools.lru_cache(maxsize=None)
def _sample_png(name: str) -> bytes:
    from PIL import Image

    from ..tavid_core.examples import sample_portrait
    buffer = io.BytesIO()
    Image.fromarray(sample_portrait(name)).save(buffer, format="PNG")
    return buffer.getvalue()
