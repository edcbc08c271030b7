"""The example workflow: well-formed, wired to real node inputs, and the same script as the CLI example."""
import asyncio
import json

import pytest
from comfyui.workflow_format import ui_to_api, widget_slots

from helpers.paths import ROOT

WORKFLOWS = ["tavid_two_person_builtin.json", "tavid_two_person_evaluate.json",  # the second adds TAVID Evaluate
             "tavid_two_person_checkpoint.json",  # the first with TAVID Checkpoint Loader in place of Built-in Engines
             "tavid_two_person_neural.json"]  # the third with ComfyUI's KSamplerSelect / BasicScheduler on the faces

# The core nodes the workflow uses, as ComfyUI 0.3.64's /object_info describes them.
CORE = {
    "LoadImage": {"input": {"required": {"image": [["example.png"], {"image_upload": True}]}},
                  "input_order": {"required": ["image"]}, "output": ["IMAGE", "MASK"]},
    "LoadAudio": {"input": {"required": {"audio": [["example.wav"], {"audio_upload": True}]}},
                  "input_order": {"required": ["audio"]}, "output": ["AUDIO"]},
    "CreateVideo": {"input": {"required": {"images": ["IMAGE", {}], "fps": ["FLOAT", {"default": 30.0}]},
                              "optional": {"audio": ["AUDIO", {}]}},
                    "input_order": {"required": ["images", "fps"], "optional": ["audio"]}, "output": ["VIDEO"]},
    "KSamplerSelect": {"input": {"required": {"sampler_name": [["euler", "euler_ancestral", "dpmpp_2m", "uni_pc"]]}},
                       "input_order": {"required": ["sampler_name"]}, "output": ["SAMPLER"]},
    "BasicScheduler": {"input": {"required": {"model": ["MODEL"], "scheduler": [["simple", "sgm_uniform", "karras",
                                                                                  "exponential", "normal"]],
                                              "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
                                              "denoise": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0}]}},
                       "input_order": {"required": ["model", "scheduler", "steps", "denoise"]}, "output": ["SIGMAS"]},
    "SaveVideo": {"input": {"required": {"video": ["VIDEO", {}], "filename_prefix": ["STRING", {}],
                                         "format": ["COMBO", {"options": ["auto", "mp4"]}],
                                         "codec": ["COMBO", {"options": ["auto", "h264"]}]}},
                  "input_order": {"required": ["video", "filename_prefix", "format", "codec"]}, "output": []},
}


def _node_info(cls) -> dict:
    """The /object_info entry of one of our nodes, built from its schema."""
    schema = cls.define_schema()
    info = {"input": {"required": {}, "optional": {}}, "input_order": {"required": [], "optional": []},
            "output": [o.io_type for o in schema.outputs]}
    for socket in schema.inputs:
        section = "optional" if socket.optional else "required"
        info["input"][section][socket.id] = [socket.io_type, dict(socket.widget)]
        info["input_order"][section].append(socket.id)
    return info


@pytest.fixture(scope="module")
def object_info(pack):
    extension = asyncio.run(pack.comfy_entrypoint())
    ours = {cls.define_schema().node_id: _node_info(cls) for cls in asyncio.run(extension.get_node_list())}
    return {**CORE, **ours}


@pytest.fixture(scope="module", params=WORKFLOWS)
def workflow(request):
    return json.loads((ROOT / "workflows" / request.param).read_text(encoding="utf-8"))


def test_links_connect_matching_types(workflow, object_info):
    nodes = {n["id"]: n for n in workflow["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, kind in workflow["links"]:
        assert object_info[nodes[src]["type"]]["output"][src_slot] == kind
        socket = nodes[dst]["inputs"][dst_slot]
        assert socket["link"] == link_id and socket["type"] == kind
        assert link_id in nodes[src]["outputs"][src_slot]["links"]


def test_converts_to_a_complete_api_prompt(workflow, object_info):
    prompt = ui_to_api(workflow, object_info)
    for node_id, node in prompt.items():
        info = object_info[node["class_type"]]
        missing = set(info["input_order"]["required"]) - set(node["inputs"])
        assert not missing, f"node {node_id} ({node['class_type']}) lacks {missing}"
        for name, value in node["inputs"].items():
            spec = {**info["input"]["required"], **info["input"].get("optional", {})}[name]
            if isinstance(value, list):
                continue  # a link
            options = spec[1].get("options") if spec[0] == "COMBO" else spec[0] if isinstance(spec[0], list) else None
            # file lists depend on the machine: a user's own portraits and checkpoints go into those
            if options and node["class_type"] not in ("LoadImage", "TAVIDCheckpointLoader"):
                assert value in options, f"{node['class_type']}.{name} = {value!r} not in {options}"
    kinds = [n["class_type"] for n in prompt.values()]
    assert kinds.count("TAVIDSpeakerMapper") == 2 and kinds.count("TAVIDFaceSampler") == 2
    assert prompt["13"]["inputs"]["audio"] == ["8", 0] and prompt["13"]["inputs"]["fps"] == ["9", 2]


def test_widget_counts_match(workflow, object_info):
    for node in workflow["nodes"]:
        assert len(node["widgets_values"]) == len(widget_slots(object_info[node["type"]])), node["type"]


def test_workflow_script_is_the_example_script(workflow):
    script = next(n for n in workflow["nodes"] if n["type"] == "TAVIDDialogueScript")["widgets_values"][0]
    assert script == (ROOT / "workflows" / "example_dialogue.txt").read_text(encoding="utf-8").rstrip("\n")


def test_the_dub_workflow_feeds_a_recording_to_motion_compose_and_video(object_info):
    """workflows/tavid_two_person_dub.json: Load Audio -> TAVID Dialogue Audio in place of the speech side; the
    video carries the node's audio output (the recording itself)."""
    workflow = json.loads((ROOT / "workflows" / "tavid_two_person_dub.json").read_text(encoding="utf-8"))
    test_links_connect_matching_types(workflow, object_info)
    test_widget_counts_match(workflow, object_info)
    prompt = ui_to_api(workflow, object_info)
    kinds = {node_id: n["class_type"] for node_id, n in prompt.items()}
    dub = next(k for k, v in kinds.items() if v == "TAVIDDialogueAudio")
    assert prompt[dub]["inputs"]["audio"] == [next(k for k, v in kinds.items() if v == "LoadAudio"), 0]
    by_kind = {v: prompt[k] for k, v in kinds.items()}
    assert by_kind["TAVIDMotionMapper"]["inputs"]["speech"] == [dub, 0]
    assert by_kind["TAVIDComposeDialogue"]["inputs"]["speech"] == [dub, 0]
    assert by_kind["CreateVideo"]["inputs"]["audio"] == [dub, 1]
    assert "TAVIDSpeechGenerator" not in kinds and "TAVIDSpeakerMapper" not in kinds
