"""Fixtures of the node tests: the pack's nodes by id, and ComfyUI's input and output folders in a temporary
place."""
import pytest


@pytest.fixture(scope="module")
def nodes(pack):
    import asyncio
    extension = asyncio.run(pack.comfy_entrypoint())
    return {cls.define_schema().node_id: cls for cls in asyncio.run(extension.get_node_list())}


@pytest.fixture()
def folders(tmp_path, monkeypatch):
    for name in ("input", "output"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("TAVID_INPUT_DIR", str(tmp_path / "input"))
    monkeypatch.setenv("TAVID_OUTPUT_DIR", str(tmp_path / "output"))
    return tmp_path
