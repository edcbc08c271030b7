"""ComfyUI adapters, one file per node family. No model logic lives here: every node calls tavid_core."""
from . import (nodes_dialogue, nodes_dub, nodes_eval, nodes_face, nodes_loaders, nodes_motion, nodes_portrait,
               nodes_speech, nodes_video)

NODES = [
    *nodes_dialogue.NODES,
    *nodes_portrait.NODES,
    *nodes_loaders.NODES,
    *nodes_speech.NODES,
    *nodes_dub.NODES,
    *nodes_motion.NODES,
    *nodes_face.NODES,
    *nodes_video.NODES,
    *nodes_eval.NODES,
]
