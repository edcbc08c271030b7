"""Every template in workflows/ (made by tests/comfyui/templates.py or by hand): it opens with a readable title,
a thumbnail and no two nodes overlapping, its links match the node definitions, it converts to a complete API
prompt, needs no file prepared by hand, and the ones templates.py makes are what it makes now."""
import json

import pytest
from comfyui.templates import TEMPLATES, build
from comfyui.workflow_checks import problems, title_problems, workflow_files
from comfyui.workflow_format import ui_to_api

from helpers.paths import ROOT

FILES = workflow_files(ROOT)


@pytest.fixture(scope="module")
def object_info(pack):
    from comfyui.workflow_checks import pack_object_info
    return pack_object_info(pack)


def test_every_template_of_templates_py_is_shipped():
    assert {p.stem for p in FILES} >= set(TEMPLATES) and len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_template_is_fit_to_ship(path, object_info):
    workflow = json.loads(path.read_text(encoding="utf-8"))
    assert problems(workflow, object_info) + title_problems(path) == []
    prompt = ui_to_api(workflow, object_info)
    kinds = [node["class_type"] for node in prompt.values()]
    assert kinds.count("TAVIDLoadPortrait") == 2
    # the voices: one Speaker Mapper per face, or (a dub) the recording's through one Dialogue Audio
    assert (kinds.count("TAVIDSpeakerMapper"), kinds.count("TAVIDDialogueAudio")) in ((2, 0), (0, 1))
    assert "TAVIDRenderVideo" in kinds or "SaveVideo" in kinds


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_file_is_what_templates_py_makes(name, object_info):
    shipped = json.loads((ROOT / "workflows" / f"{name}.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(build(name, object_info))), "run: python tests/comfyui/templates.py"


def test_a_template_speaks_the_example_script(object_info):
    workflow = json.loads((ROOT / "workflows" / "TAVID conversation, zero downloads.json").read_text(encoding="utf-8"))
    script = next(n for n in workflow["nodes"] if n["type"] == "TAVIDDialogueScript")["widgets_values"][0]
    assert script == (ROOT / "workflows" / "example_dialogue.txt").read_text(encoding="utf-8").rstrip("\n")


def _prompt(name: str, object_info: dict) -> dict:
    return ui_to_api(json.loads((ROOT / "workflows" / f"{name}.json").read_text(encoding="utf-8")), object_info)


def _node(prompt: dict, kind: str) -> tuple[str, dict]:
    return next((key, node) for key, node in prompt.items() if node["class_type"] == kind)


def test_the_f5_template_speaks_through_the_f5_loader(object_info):
    prompt = _prompt("TAVID short clip, F5 TTS voices", object_info)
    loader, _ = _node(prompt, "TAVIDF5Loader")
    _, speech = _node(prompt, "TAVIDSpeechGenerator")
    assert speech["inputs"]["speech_model"] == [loader, 1] and speech["inputs"]["steps"] == 32
    mappers = [n for n in prompt.values() if n["class_type"] == "TAVIDSpeakerMapper"]
    # no recording: each voice imitates the built-in voice suited to the face (README, F5-TTS voices)
    assert [m["inputs"]["speaker_mapper"] for m in mappers] == [[loader, 2]] * 2
    assert all(m["inputs"]["transcript"] == "" and "audio" not in m["inputs"] for m in mappers)


def test_the_liveportrait_template_renders_with_the_liveportrait_loader(object_info):
    prompt = _prompt("TAVID short clip, LivePortrait faces", object_info)
    loader, _ = _node(prompt, "TAVIDLivePortraitLoader")
    _, video = _node(prompt, "TAVIDRenderVideo")
    assert video["inputs"]["face_model"] == [loader, 0] and video["inputs"]["size"] == 512


def test_the_dub_template_feeds_the_sample_tracks_to_motion_and_the_video(object_info):
    """A recording in place of the speech side: both Load Recording samples into TAVID Dialogue Audio, whose speech
    drives the Motion Mapper and whose recording (not the speech's mix) is what Render Video carries."""
    prompt = _prompt("TAVID dub, a recording drives both faces", object_info)
    dub, _ = _node(prompt, "TAVIDDialogueAudio")
    tracks = {k: n["inputs"]["recording"] for k, n in prompt.items() if n["class_type"] == "TAVIDLoadRecording"}
    assert sorted(tracks.values()) == ["sample conversation: A's track", "sample conversation: B's track"]
    assert {prompt[dub]["inputs"][f"audio_{w}"][0] for w in "ab"} == set(tracks)
    assert "audio" not in prompt[dub]["inputs"]
    _, motion = _node(prompt, "TAVIDMotionMapper")
    _, video = _node(prompt, "TAVIDRenderVideo")
    assert motion["inputs"]["speech"] == video["inputs"]["speech"] == [dub, 0]
    assert video["inputs"]["audio"] == [dub, 1]
    assert not any(n["class_type"] in ("TAVIDSpeechGenerator", "LoadAudio") for n in prompt.values())


def _shifted(workflow: dict, node_id: int, dx: float, dy: float) -> dict:
    moved = json.loads(json.dumps(workflow))
    node = next(n for n in moved["nodes"] if n["id"] == node_id)
    node["pos"] = [node["pos"][0] + dx, node["pos"][1] + dy]
    return moved


def test_the_checks_find_overlaps_wrong_links_and_names(object_info):
    workflow = build("TAVID short clip, faces as IMAGE frames", object_info)
    assert problems(workflow, object_info) == []
    nodes = {n["type"]: n for n in workflow["nodes"]}
    speech, motion = nodes["TAVIDSpeechGenerator"], nodes["TAVIDMotionMapper"]
    # the speech generator moved right onto the motion mapper's column, near its top: they overlap
    crowded = _shifted(workflow, speech["id"], motion["pos"][0] - speech["pos"][0], 0)
    assert any(f"nodes {speech['id']}" in p and "overlap" in p for p in problems(crowded, object_info))
    # a node drawn taller than its file says: the loader's five outputs and two widgets need 162 px under its
    # title, so a Speaker Mapper placed 25 px below a 40 px loader is covered by it on the canvas
    loader = nodes["TAVIDBuiltinEngines"]
    mapper = next(n for n in workflow["nodes"] if n["type"] == "TAVIDSpeakerMapper")
    short = json.loads(json.dumps(workflow))
    next(n for n in short["nodes"] if n["id"] == loader["id"])["size"][1] = 40
    assert problems(short, object_info) == []
    short = _shifted(short, mapper["id"], 0, loader["pos"][1] + 40 + 30 + 25 - mapper["pos"][1])
    found = problems(short, object_info)
    assert any(f"nodes {loader['id']} (TAVIDBuiltinEngines) and {mapper['id']}" in p for p in found)
    # a link of the wrong type, and an output under an old name
    wrong = json.loads(json.dumps(workflow))
    wrong["links"][0][5] = "AUDIO"
    next(n for n in wrong["nodes"] if n["type"] == "TAVIDSpeechGenerator")["outputs"][0]["name"] = "audio"
    found = problems(wrong, object_info)
    assert any("link 1" in p for p in found) and any("outputs named ['audio'" in p for p in found)


def test_a_template_that_needs_the_users_file_is_refused(object_info):
    workflow = build("TAVID short clip, faces as IMAGE frames", object_info)
    portrait = next(n for n in workflow["nodes"] if n["type"] == "TAVIDLoadPortrait")
    portrait.update(type="LoadImage", widgets_values=["tavid_grace_hopper.png", "image"],
                    outputs=[{"name": "IMAGE", "type": "IMAGE", "links": portrait["outputs"][0]["links"]},
                             {"name": "MASK", "type": "MASK", "links": []}])
    assert any("needs a file the user must put into ComfyUI/input" in p for p in problems(workflow, object_info))


def test_titles_must_read_as_words(tmp_path):
    (tmp_path / "tavid_two_person_f5.json").write_text("{}")
    assert len(title_problems(tmp_path / "tavid_two_person_f5.json")) == 2   # a file name, and no thumbnail
