"""Turning a UI-format workflow (what ComfyUI's editor saves) into the API-format prompt `POST /prompt` takes.

The editor stores widget values as a flat list per node, in the order of the node's widget inputs, with
an extra value after a seed that has "control after generate" and after an upload combo (its button; two after an
audio upload combo: its button and its player). The
node definitions (`GET /object_info`, or the same shape built from our schemas) say which inputs are
widgets and in what order. Notes are the editor's own and are not sent.
"""
from __future__ import annotations

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
VIRTUAL = {"Note", "MarkdownNote"}   # drawn by the frontend only: no definition, never sent to the server


def is_widget(kind) -> bool:
    return isinstance(kind, list) or kind in WIDGET_TYPES


def inputs_in_order(info: dict):
    """(name, type, options, section) of every input of a node definition, in the order the editor lists them."""
    order = info.get("input_order") or {k: list(v) for k, v in info["input"].items()}
    for section in ("required", "optional"):
        for name in order.get(section, []):
            spec = info["input"][section][name]
            yield name, spec[0], (spec[1] if len(spec) > 1 else {}), section


def widget_slots(node_info: dict) -> list[str | None]:
    """Input names in widgets_values order; None marks the editor's extra values."""
    slots: list[str | None] = []
    for name, kind, options, _ in inputs_in_order(node_info):
        if is_widget(kind):
            slots.append(name)
            if options.get("control_after_generate"):
                slots.append(None)
            if options.get("audio_upload"):   # the upload button and the player
                slots += [None, None]
            elif any(k.endswith("_upload") for k in options):   # the upload button
                slots.append(None)
    return slots


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """The API prompt of a UI workflow: {node id: {"class_type", "inputs"}}."""
    sources = {link[0]: (str(link[1]), link[2]) for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        if node["type"] in VIRTUAL:
            continue
        info = object_info[node["type"]]
        inputs = {}
        values = list(node.get("widgets_values") or [])
        slots = widget_slots(info)
        if len(values) != len(slots):
            raise ValueError(f"node {node['id']} ({node['type']}): {len(values)} widget values for widgets {slots}")
        for name, value in zip(slots, values):
            if name is not None:
                inputs[name] = value
        for socket in node.get("inputs", []):
            if socket.get("link") is not None:
                source, slot = sources[socket["link"]]
                inputs[socket["name"]] = [source, slot]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt
