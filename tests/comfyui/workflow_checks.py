"""What every template in workflows/ must be, checked without a ComfyUI: its file name reads as a title, it has
a thumbnail, every node is known and its widgets fill its inputs, every link joins an output to an input of
the same type as the node definitions say, every output is shown under the name its node gives it, nothing
needs a file the user has to prepare (portraits come from TAVID Load Portrait), and no two nodes overlap.

Node definitions are ComfyUI's `/object_info` entries: ours built from the pack's schemas (`pack_object_info`),
the core ones from core_nodes.json (a copy of a real server's). The sizes are the smallest the frontend draws a
node at (`min_height`, measured on frontend 1.27.10; a node is drawn at least that large whatever its file
says), so a check on the file's geometry is a check on the canvas a user sees; `browser_check.mjs` confirms it
in a real browser, also after a run, when previews have grown.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .workflow_format import VIRTUAL, inputs_in_order, is_widget, widget_slots

HERE = Path(__file__).resolve().parent
NEEDS_A_FILE = {"LoadImage": "image", "LoadAudio": "audio", "LoadVideo": "file"}  # the user's own files
TITLE_BAR, SLOT_ROW, WIDGET_ROW = 30, 20, 24   # frontend 1.27.10: a node's title, a socket row, a widget row
MIN_WIDTH = 210                                 # ... and its narrowest node with widgets
GAP = 20                                        # room between two nodes' boxes, title bars included


def core_object_info() -> dict:
    data = json.loads((HERE / "core_nodes.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def node_info(cls) -> dict:
    """The /object_info entry of one of our nodes, built from its schema as ComfyUI builds it."""
    schema = cls.define_schema()
    info = {"input": {"required": {}, "optional": {}}, "input_order": {"required": [], "optional": []},
            "output": [o.io_type for o in schema.outputs],
            "output_name": [o.display_name or o.io_type for o in schema.outputs]}
    for socket in schema.inputs:
        section = "optional" if socket.optional else "required"
        info["input"][section][socket.id] = [socket.io_type, dict(socket.widget)]
        info["input_order"][section].append(socket.id)
    return info


def pack_object_info(pack) -> dict:
    """Ours and the core nodes' definitions, as a ComfyUI with the pack loaded lists them."""
    import asyncio
    extension = asyncio.run(pack.comfy_entrypoint())
    ours = {cls.define_schema().node_id: node_info(cls) for cls in asyncio.run(extension.get_node_list())}
    return {**core_object_info(), **ours}


def sockets(info: dict) -> list[tuple[str, str, bool]]:
    """(name, type, required) of the inputs drawn as sockets (not widgets)."""
    return [(name, kind, section == "required")
            for name, kind, _, section in inputs_in_order(info) if not is_widget(kind)]


def input_types(info: dict) -> dict[str, str]:
    """What each input takes from a link: a socket its type, a widget its value type (a FLOAT widget takes a
    FLOAT output, as Create Video's fps takes the Motion Mapper's); a list (combo) nothing."""
    return {name: kind for name, kind, _, _ in inputs_in_order(info) if isinstance(kind, str)}


def min_height(info: dict) -> int:
    """The height the frontend gives the node at least, below its title: one row per socket on the longer
    side, one per widget (a multiline text counts three), and a margin."""
    rows = max(len(sockets(info)), len(info["output"]), 1)
    widgets = sum(3 if is_widget(kind) and options.get("multiline") else 1
                  for name, kind, options, _ in inputs_in_order(info) if is_widget(kind))
    widgets += sum(1 for slot in widget_slots(info) if slot is None)
    return rows * SLOT_ROW + (widgets * WIDGET_ROW + 14 if widgets else 6)


def boxes(workflow: dict, object_info: dict) -> dict[int, tuple[float, float, float, float]]:
    """Each node's box on the canvas (x0, y0, x1, y1), title bar included, at least as large as drawn."""
    out = {}
    for node in workflow["nodes"]:
        info = object_info.get(node["type"])
        width, height = node.get("size") or (0, 0)
        if info is not None:
            width, height = max(width, MIN_WIDTH), max(height, min_height(info))
        x, y = node["pos"]
        out[node["id"]] = (x, y - TITLE_BAR, x + width, y + height)
    return out


def overlaps(workflow: dict, object_info: dict) -> list[str]:
    found, items = [], sorted(boxes(workflow, object_info).items())
    kinds = {n["id"]: n["type"] for n in workflow["nodes"]}
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(items):
        for b, (bx0, by0, bx1, by1) in items[i + 1:]:
            if ax0 < bx1 + GAP and bx0 < ax1 + GAP and ay0 < by1 + GAP and by0 < ay1 + GAP:
                found.append(f"nodes {a} ({kinds[a]}) and {b} ({kinds[b]}) overlap or touch (less than {GAP} px apart)")
    return found


def problems(workflow: dict, object_info: dict) -> list[str]:
    """Everything wrong with a UI-format workflow, each as a sentence; [] when it is fit to ship."""
    out = []
    nodes = {n["id"]: n for n in workflow["nodes"]}
    for node in workflow["nodes"]:
        where = f"node {node['id']} ({node['type']})"
        if node["type"] in VIRTUAL:
            continue
        info = object_info.get(node["type"])
        if info is None:
            out.append(f"{where}: unknown node type; a core node needs its entry in tests/comfyui/core_nodes.json")
            continue
        if node["type"] in NEEDS_A_FILE:
            out.append(f"{where}: needs a file the user must put into ComfyUI/input; use TAVID Load Portrait")
        slots, values = widget_slots(info), node.get("widgets_values") or []
        if len(values) != len(slots):
            out.append(f"{where}: {len(values)} widget values for the widgets {slots}")
        options = {name: spec.get("options", kind if isinstance(kind, list) else None)
                   for name, kind, spec, _ in inputs_in_order(info) if is_widget(kind)}
        for name, value in zip(slots, values):
            allowed = options.get(name)
            # file lists depend on the machine: checkpoints and LoRAs are the user's (the template says which)
            if allowed and value not in allowed and not _file_list(node["type"], name):
                out.append(f"{where}: {name} = {value!r} is not one of {allowed}")
        outputs = node.get("outputs") or []
        if [o.get("type") for o in outputs] != info["output"]:
            out.append(f"{where}: outputs {[o.get('type') for o in outputs]}, the node has {info['output']}")
        names = info.get("output_name") or info["output"]
        if [o.get("name") for o in outputs] != list(names)[:len(outputs)]:
            out.append(f"{where}: outputs named {[o.get('name') for o in outputs]}, the node calls them {names}")
        drawn = {s["name"]: s for s in node.get("inputs") or []}
        for name, kind, required in sockets(info):
            if required and drawn.get(name, {}).get("link") is None:
                out.append(f"{where}: the required input {name} ({kind}) is not connected")
    for link_id, src, src_slot, dst, dst_slot, kind in workflow["links"]:
        where = f"link {link_id} ({kind}, node {src} slot {src_slot} -> node {dst} slot {dst_slot})"
        if src not in nodes or dst not in nodes:
            out.append(f"{where}: joins a node that is not in the workflow")
            continue
        src_info, dst_info = object_info.get(nodes[src]["type"]), object_info.get(nodes[dst]["type"])
        if src_info is None or dst_info is None:
            continue
        if src_slot >= len(src_info["output"]) or src_info["output"][src_slot] != kind:
            out.append(f"{where}: the source node's output {src_slot} is not {kind}")
        if link_id not in (nodes[src].get("outputs") or [{}] * (src_slot + 1))[src_slot].get("links", []):
            out.append(f"{where}: the source output does not list the link")
        inputs = nodes[dst].get("inputs") or []
        socket = inputs[dst_slot] if dst_slot < len(inputs) else {}
        wanted = input_types(dst_info).get(socket.get("name"))
        if socket.get("link") != link_id or wanted != kind or socket.get("type") != kind:
            out.append(f"{where}: the target input {socket.get('name')!r} takes {wanted}, not this link")
        elif is_widget(kind) and socket.get("widget", {}).get("name") != socket.get("name"):
            out.append(f"{where}: a link into the widget {socket.get('name')!r} needs \"widget\" in its input")
    return out + overlaps(workflow, object_info)


def _file_list(node_type: str, name: str) -> bool:
    return (name in {"ckpt_name", "lora_name", "vae", "f5_model", "vocoder"} or node_type in NEEDS_A_FILE
            or (node_type, name) == ("TAVIDLivePortraitLoader", "folder"))


def title_problems(path: Path) -> list[str]:
    """ComfyUI's frontend 1.27.10 shows a pack's template under its file name, and the same name with '-' and
    '_' turned into spaces as its description, and asks for `<name>.jpg` beside it as the card's picture."""
    out, stem = [], path.stem
    if not re.fullmatch(r"TAVID [A-Za-z0-9 ,()']+", stem):
        out.append(f"{path.name}: the template browser shows the file name as the title: name it in words, "
                   "'TAVID ...' (letters, digits, spaces, commas, brackets; no '_' or '-')")
    thumbnail = path.with_suffix(".jpg")
    if not thumbnail.is_file():
        out.append(f"{path.name}: no thumbnail {thumbnail.name} (make one: python tests/comfyui/run_workflow.py "
                   f"'workflows/{path.name}' --comfyui DIR --thumbnail)")
    elif not thumbnail.read_bytes().startswith(b"\xff\xd8") or thumbnail.stat().st_size > 200_000:
        out.append(f"{thumbnail.name}: not a JPEG of at most 200 kB")
    return out


def workflow_files(root: Path) -> list[Path]:
    return sorted((root / "workflows").glob("*.json"))
