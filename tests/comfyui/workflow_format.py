"""Turning a UI-format workflow (what ComfyUI's editor saves) into the API-format prompt `POST /prompt` takes.

The editor stores widget values as a flat list per node, in the order of the node's widget inputs, with
an extra value after a seed that has "control after generate" and after an image upload combo (two after an
audio upload combo). The
node definitions (`GET /object_info`, or the same shape built from our schemas) say which inputs are
widgets and in what order.
"""
from __future__ import annotations

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def widget_slots(node_info: dict) -> list[str | None]:
    """Input names in widgets_values order; None marks the editor's extra values."""
    slots: list[str | None] = []
    order = node_info.get("input_order") or {k: list(v) for k, v in node_info["input"].items()}
    for section in ("required", "optional"):
        for name in order.get(section, []):
            spec = node_info["input"][section][name]
            kind, options = spec[0], (spec[1] if len(spec) > 1 else {})
            if isinstance(kind, list) or kind in WIDGET_TYPES:
                slots.append(name)
                if options.get("control_after_generate") or options.get("image_upload"):
                    slots.append(None)
                if options.get("audio_upload"):   # the upload button and the player
                    slots += [None, None]
    return slots


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """The API prompt of a UI workflow: {node id: {"class_type", "inputs"}}."""
    sources = {link[0]: (str(link[1]), link[2]) for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
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
