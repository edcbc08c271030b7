"""TAVID Dialogue Script: the conversation as text."""
from __future__ import annotations

from comfy_api.latest import io

from ..tavid_core.dialogue import parse_script
from . import sockets
from .errors import node_errors

DEFAULT_SCRIPT = """A: Hi! Did you sleep well?
B: Not really, the neighbours had a party.
A: Oh no. Was it loud?
B: [sighs] Loud enough. But I'm fine, really."""


class DialogueScript(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDDialogueScript",
            display_name="TAVID Dialogue Script",
            category=sockets.CATEGORY,
            description="A conversation between two people, one turn per line: 'Name: text', '[S1] text' or "
                        "'Speaker 1: text'. A line '[pause:0.8s]' adds silence before the next turn; '#' starts a "
                        "comment; inline tags such as [laughs] shape the listener's reaction, and a backchannel "
                        "such as [mm-hm] inside a turn is said there by the listener.",
            inputs=[
                io.String.Input("script", multiline=True, default=DEFAULT_SCRIPT,
                                tooltip="One turn per line; exactly two speakers."),
                io.String.Input("speaker_a", default="", tooltip="Rename the first speaker (empty: as in the script)."),
                io.String.Input("speaker_b", default="", tooltip="Rename the second speaker (empty: as in the script)."),
            ],
            outputs=[sockets.Dialogue.Output("dialogue", display_name="dialogue",
                                             tooltip="The parsed two-person dialogue.")],
        )

    @classmethod
    def execute(cls, script: str, speaker_a: str = "", speaker_b: str = "") -> io.NodeOutput:
        with node_errors("TAVID Dialogue Script"):
            return io.NodeOutput(parse_script(script, (speaker_a or None, speaker_b or None)))


NODES = [DialogueScript]
