"""The pack's templates (workflows/*.json) written as code, laid out in columns with every node at least as
large as ComfyUI's frontend draws it and room for what grows after a run (video previews, the Evaluate
report, the speech strip), and saved as the UI-format JSON the editor opens.

    python tests/comfyui/templates.py            # rewrites every template listed in TEMPLATES

A new template: a function that builds a `Graph`, and its file name (the title the template browser shows) in
TEMPLATES; then make its thumbnail (run_workflow.py --thumbnail). tests/nodes/test_workflows.py checks every
workflow file, written here or by hand.
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

if __package__ in (None, ""):   # run as a script: the repository and tests/ on the path, as pytest has them
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]
    __package__ = "comfyui"

from .workflow_checks import MIN_WIDTH, TITLE_BAR, min_height, pack_object_info, sockets  # noqa: E402
from .workflow_format import widget_slots  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
COLUMN_GAP, ROW_GAP = 60, 50   # between the columns, and between the nodes of a column (title bars apart)
WIDTH = 330                    # most nodes: wide enough for the longest widget of the pack's nodes


class Graph:
    def __init__(self, object_info: dict):
        self.info, self.nodes, self.links, self.columns = object_info, [], [], {}

    def node(self, kind: str, column: int, title: str | None = None, box: tuple[int, int] | None = None,
             grow: int = 0, **widgets) -> dict:
        """A node in `column` (below the ones added before), at least `box` (width, height) large, its widgets at
        their defaults unless given, `grow` pixels of room below its widgets for what it shows after a run."""
        info = self.info[kind]
        values = []
        for slot in widget_slots(info):
            if slot is None:   # the seed's "control after generate", an upload combo's button
                values.append("fixed" if values and isinstance(values[-1], int) else "image")
                continue
            spec = {**info["input"]["required"], **info["input"].get("optional", {})}[slot]
            default = spec[1].get("default", (spec[1].get("options") or [None])[0]) if len(spec) > 1 else None
            values.append(widgets.pop(slot, default))
        if widgets:
            raise ValueError(f"{kind} has no widgets {sorted(widgets)}")
        width, height = box or (WIDTH, 0)
        node = {"id": len(self.nodes) + 1, "type": kind, "pos": [0, 0],
                "size": [max(width, MIN_WIDTH), max(height, min_height(info) + grow)], "flags": {},
                "order": len(self.nodes), "mode": 0,
                "inputs": [{"name": name, "type": kind_, "link": None} for name, kind_, _ in sockets(info)],
                "outputs": [{"name": name, "type": kind_, "links": [], "slot_index": i}
                            for i, (name, kind_) in enumerate(zip(info.get("output_name") or info["output"],
                                                                  info["output"]))],
                "properties": {"Node name for S&R": kind}, "widgets_values": values}
        if title:
            node["title"] = title
        self.nodes.append(node)
        self.columns.setdefault(column, []).append(node)
        return node

    def note(self, column: int, text: str, height: int = 130) -> dict:
        node = {"id": len(self.nodes) + 1, "type": "Note", "pos": [0, 0], "size": [WIDTH, height], "flags": {},
                "order": len(self.nodes), "mode": 0, "inputs": [], "outputs": [], "properties": {},
                "widgets_values": [text], "color": "#432", "bgcolor": "#653"}
        self.nodes.append(node)
        self.columns.setdefault(column, []).append(node)
        return node

    def link(self, source: dict, output: str, target: dict, input_name: str) -> None:
        """`output` of `source` into `input_name` of `target`: a socket, or a widget that takes the value
        from the link instead (Create Video's fps from the Motion Mapper)."""
        slot = [o["name"] for o in source["outputs"]].index(output)
        kind = source["outputs"][slot]["type"]
        inputs = [i["name"] for i in target["inputs"]]
        if input_name not in inputs:   # a widget input
            target["inputs"].append({"name": input_name, "type": kind, "widget": {"name": input_name}, "link": None})
            inputs.append(input_name)
        target_slot = inputs.index(input_name)
        if target["inputs"][target_slot]["type"] != kind:
            raise ValueError(f"{source['type']}.{output} ({kind}) cannot go into {target['type']}.{input_name}")
        link_id = len(self.links) + 1
        self.links.append([link_id, source["id"], slot, target["id"], target_slot, kind])
        source["outputs"][slot]["links"].append(link_id)
        target["inputs"][target_slot]["link"] = link_id

    def saved(self, info: str, seed: str) -> dict:
        """The workflow as the editor saves it, the nodes placed column by column."""
        x = 20
        for column in sorted(self.columns):
            nodes = self.columns[column]
            y = 20 + TITLE_BAR
            for node in nodes:
                node["pos"] = [x, y]
                y += node["size"][1] + TITLE_BAR + ROW_GAP
            x += max(n["size"][0] for n in nodes) + COLUMN_GAP
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "comfyui-tavid/" + seed)), "revision": 0,
                "last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": [], "config": {},
                "extra": {"ds": {"scale": 0.55, "offset": [0, 0]}, "info": info}, "version": 0.4}


def example_script(turns: int | None = None) -> str:
    """The example dialogue, or its comment lines and first `turns` turns (a short clip)."""
    lines = (ROOT / "workflows" / "example_dialogue.txt").read_text(encoding="utf-8").rstrip("\n").splitlines()
    if turns is None:
        return "\n".join(lines)
    kept, spoken = [], 0
    for line in lines:
        spoken += not line.startswith(("#", "["))
        if spoken > turns:
            break
        kept.append(line)
    return "\n".join(kept)


def speech_side(g: Graph, loader: dict, script: str) -> dict:
    """Script, portraits, voices and speech (columns 0-2): the Graph's nodes by role."""
    nodes = {"loader": loader}
    nodes["script"] = g.node("TAVIDDialogueScript", 0, box=(440, 380), script=script)   # and its status line
    for who, sample in (("A", "grace_hopper"), ("B", "astronaut")):
        nodes[f"portrait {who}"] = g.node("TAVIDLoadPortrait", 0, title=f"TAVID Load Portrait {who}", grow=190,
                                          portrait=f"sample: {sample}")   # room for the picture
    nodes["text"] = g.node("TAVIDTextEncoder", 2)
    for who in "AB":
        nodes[f"voice {who}"] = g.node("TAVIDSpeakerMapper", 1, title=f"TAVID Speaker Mapper {who}")
        g.link(loader, "speaker mapper", nodes[f"voice {who}"], "speaker_mapper")
        g.link(nodes[f"portrait {who}"], "portrait", nodes[f"voice {who}"], "image")
    nodes["speech"] = g.node("TAVIDSpeechGenerator", 2, grow=70)   # the strip of who speaks when
    nodes["motion"] = g.node("TAVIDMotionMapper", 3)
    g.link(nodes["script"], "dialogue", nodes["text"], "dialogue")
    g.link(loader, "text encoder", nodes["text"], "text_encoder")
    g.link(loader, "speech model", nodes["speech"], "speech_model")
    g.link(nodes["text"], "encoded text", nodes["speech"], "text")
    g.link(nodes["voice A"], "voice", nodes["speech"], "voice_a")
    g.link(nodes["voice B"], "voice", nodes["speech"], "voice_b")
    g.link(loader, "motion mapper", nodes["motion"], "motion_mapper")
    g.link(nodes["speech"], "speech", nodes["motion"], "speech")
    return nodes


def streamed(g: Graph, nodes: dict, column: int = 4, faces: dict | None = None, **widgets) -> dict:
    """TAVID Render Video on the speech side: the faces rendered into a file as they are made (by the face
    model of `faces`, a loader, or else of the speech side's)."""
    video = g.node("TAVIDRenderVideo", column, box=(560, 0), grow=300, **widgets)   # the video's preview
    g.link(faces or nodes["loader"], "face model", video, "face_model")
    for who in "AB":
        g.link(nodes[f"portrait {who}"], "portrait", video, f"image_{who.lower()}")
        g.link(nodes["motion"], f"motion {who}", video, f"motion_{who.lower()}")
    g.link(nodes["speech"], "speech", video, "speech")
    return video


def as_frames(g: Graph, nodes: dict, size: int, **sampling) -> dict:
    """Face Samplers, Compose Dialogue, Create Video and Save Video: every frame an IMAGE (short clips)."""
    compose = g.node("TAVIDComposeDialogue", 4)
    for who, side in (("A", "right"), ("B", "left")):
        face = g.node("TAVIDFaceSampler", 3, title=f"TAVID Face Sampler {who}", face_toward=side, size=size,
                      **sampling)
        nodes[f"face {who}"] = face
        g.link(nodes["loader"], "face model", face, "face_model")
        g.link(nodes[f"portrait {who}"], "portrait", face, "image")
        g.link(nodes["motion"], f"motion {who}", face, "motion")
        g.link(face, "frames", compose, f"images_{who.lower()}")
    g.link(nodes["speech"], "speech", compose, "speech")
    create = g.node("CreateVideo", 4)
    save = g.node("SaveVideo", 5, box=(560, 0), grow=300, filename_prefix="tavid/clip")
    g.link(compose, "frames", create, "images")
    g.link(nodes["speech"], "mix", create, "audio")
    g.link(nodes["motion"], "fps", create, "fps")
    g.link(create, "VIDEO", save, "video")
    return nodes


def zero_downloads(g: Graph) -> None:
    nodes = speech_side(g, g.node("TAVIDBuiltinEngines", 1), example_script())
    streamed(g, nodes)


def short_clip(g: Graph) -> None:
    as_frames(g, speech_side(g, g.node("TAVIDBuiltinEngines", 1), example_script(turns=4)), size=384)


def evaluated(g: Graph) -> None:
    nodes = speech_side(g, g.node("TAVIDBuiltinEngines", 1), example_script())
    video = streamed(g, nodes, filename_prefix="tavid/evaluated")
    report = g.node("TAVIDEvaluate", 5, box=(760, 0))   # its tables are drawn under it after the run
    g.link(video, "video", report, "video")
    g.link(nodes["speech"], "speech", report, "speech")
    g.link(nodes["script"], "dialogue", report, "dialogue")
    g.link(nodes["portrait A"], "portrait", report, "reference_a")
    g.link(nodes["portrait B"], "portrait", report, "reference_b")


CHECKPOINT_NOTE = ("This graph needs a trained TAVID checkpoint in ComfyUI/models/tavid: {name} ({what}). Make one "
                   "with the tavid command (README, 'Neural engines'), put it there and press R. Blocks the "
                   "checkpoint lacks are the built-in ones.")


def speech_checkpoint(g: Graph) -> None:
    name = "tavid_speech.safetensors"
    loader = g.node("TAVIDCheckpointLoader", 1, ckpt_name=name)
    g.note(1, CHECKPOINT_NOTE.format(name=name, what="neural speech: tavid train speech, vocoder, speaker-mapper, "
                                                      "then tavid bundle"))
    nodes = speech_side(g, loader, example_script())
    nodes["speech"]["widgets_values"][2] = 16   # steps: the neural speech model's
    streamed(g, nodes)


def neural_faces(g: Graph) -> None:
    name = "tavid_neural.safetensors"
    loader = g.node("TAVIDCheckpointLoader", 1, ckpt_name=name)
    g.note(1, CHECKPOINT_NOTE.format(name=name, what="neural speech, motion and face: tavid train ..., then "
                                                      "tavid bundle"), height=150)
    nodes = speech_side(g, loader, example_script(turns=4))
    nodes["speech"]["widgets_values"][2] = 16
    select = g.node("KSamplerSelect", 2, sampler_name="dpmpp_2m")
    schedule = g.node("TAVIDFaceModelSampling", 2)
    sigmas = g.node("BasicScheduler", 2, scheduler="karras", steps=8)
    g.link(loader, "face model", schedule, "face_model")
    g.link(schedule, "noise schedule", sigmas, "model")
    as_frames(g, nodes, size=256, steps=8)
    for who in "AB":
        g.link(select, "SAMPLER", nodes[f"face {who}"], "sampler_custom")
        g.link(sigmas, "SIGMAS", nodes[f"face {who}"], "sigmas")


WEIGHTS_NOTE = ("This graph needs {what} in ComfyUI/models/{folder} (README, '{section}'): download them, put "
                "them there and press R. {more}")


def liveportrait_faces(g: Graph) -> None:
    faces = g.node("TAVIDLivePortraitLoader", 1, folder="liveportrait")
    g.note(1, WEIGHTS_NOTE.format(what="LivePortrait's five .safetensors files", folder="liveportrait",
                                  section="LivePortrait faces", more="Voices and motion are the built-in ones; "
                                  "on a CPU each frame takes seconds, so this is a short clip."), height=150)
    nodes = speech_side(g, g.node("TAVIDBuiltinEngines", 1), example_script(turns=4))
    streamed(g, nodes, faces=faces, filename_prefix="tavid/liveportrait")


def f5_voices(g: Graph) -> None:
    loader = g.node("TAVIDF5Loader", 1, f5_model="F5TTS_v1_Base/model_1250000.safetensors",
                    vocoder="vocos_mel_24khz.safetensors")
    g.note(1, WEIGHTS_NOTE.format(what="F5-TTS v1 Base (with its vocab.txt) and the Vocos vocoder", folder="f5_tts",
                                  section="F5-TTS voices", more="To imitate a recording, give a Speaker Mapper a "
                                  "Load Audio and the recording's words as its transcript."), height=170)
    nodes = speech_side(g, loader, example_script(turns=4))
    streamed(g, nodes, filename_prefix="tavid/f5")


def dubbed(g: Graph) -> None:
    """A recording drives both faces: the sample conversation as each person's own track (no file, no model to
    fetch); the note says how to use one's own."""
    loader = g.node("TAVIDBuiltinEngines", 1)
    g.note(1, "Dub mode: a recording of two people drives both faces. Pick your own file (copied into "
              "ComfyUI/input, then R) in the Load Recording nodes: one track per person into audio_a and audio_b, "
              "or one file with both voices into audio (it needs tavid models fetch). For exact words connect a "
              "TAVID Dialogue Script with the transcript.", height=190)
    nodes = {"loader": loader}
    for who, sample in (("A", "grace_hopper"), ("B", "astronaut")):
        nodes[f"portrait {who}"] = g.node("TAVIDLoadPortrait", 0, title=f"TAVID Load Portrait {who}", grow=190,
                                          portrait=f"sample: {sample}")
    dub = g.node("TAVIDDialogueAudio", 2)
    for who in "AB":
        track = g.node("TAVIDLoadRecording", 1, title=f"TAVID Load Recording {who}",
                       recording=f"sample conversation: {who}'s track")
        g.link(track, "recording", dub, f"audio_{who.lower()}")
    nodes["speech"] = dub
    nodes["motion"] = g.node("TAVIDMotionMapper", 3)
    g.link(loader, "motion mapper", nodes["motion"], "motion_mapper")
    g.link(dub, "speech", nodes["motion"], "speech")
    video = streamed(g, nodes, filename_prefix="tavid/dub")
    g.link(dub, "recording", video, "audio")


TEMPLATES = {   # file name (the title the template browser shows): (what it builds, its description)
    "TAVID conversation, zero downloads": (zero_downloads, "The example dialogue with the built-in engines, "
                                           "rendered straight into a video file (any length, flat memory)."),
    "TAVID short clip, faces as IMAGE frames": (short_clip, "A short clip with every frame an IMAGE, for other "
                                                "image nodes (memory grows with the length: keep it short)."),
    "TAVID conversation with its evaluation": (evaluated, "The example dialogue, then TAVID Evaluate's report on "
                                               "the video (needs requirements-eval.txt)."),
    "TAVID conversation, trained speech checkpoint": (speech_checkpoint, "Neural speech from a trained "
                                                      "checkpoint in models/tavid, built-in faces."),
    "TAVID short clip, neural faces and ComfyUI samplers": (neural_faces, "Neural speech, motion and faces from a "
                                                            "checkpoint, the faces sampled by KSamplerSelect and "
                                                            "BasicScheduler."),
    "TAVID short clip, LivePortrait faces": (liveportrait_faces, "Photoreal faces from the public LivePortrait "
                                             "weights in models/liveportrait, driven by TAVID's motion (a GPU "
                                             "renders a frame in milliseconds)."),
    "TAVID short clip, F5 TTS voices": (f5_voices, "Natural voices from the public F5-TTS and Vocos weights in "
                                        "models/f5_tts, each imitating a recording when given one."),
    "TAVID dub, a recording drives both faces": (dubbed, "Dub mode: an existing recording of two people (the "
                                                 "sample conversation, or your own file) animates both faces, "
                                                 "talking and listening; the video carries the recording."),
}


def build(name: str, object_info: dict) -> dict:
    make, info = TEMPLATES[name]
    graph = Graph(object_info)
    make(graph)
    return graph.saved(f"ComfyUI-TAVID: {info}", name)


def main() -> int:
    from helpers.pack import load_pack
    object_info = pack_object_info(load_pack())
    for name in TEMPLATES:
        path = ROOT / "workflows" / f"{name}.json"
        path.write_text(json.dumps(build(name, object_info), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
