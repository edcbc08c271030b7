"""The F5-TTS engines from the files users keep: the speech model (a file laid out like
F5TTS_v1_Base/model_1250000.safetensors, with its vocab.txt beside it) and the Vocos vocoder (the
safetensors `tavid convert` makes of vocos-mel-24khz's pytorch_model.bin). Which file is which is read
from their tensor names, so the order they are given in does not matter."""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Sequence

import torch

from .....checkpoints import inspect_checkpoint
from .....errors import EngineUnavailableError, TavidError
from ....protocols import SpeakerMapper
from ...common.inference import precision_for
from .config import F5_FILE, F5_V1_BASE, VOCAB_FILE, VOCOS_FILE, F5DiTConfig
from .generator import F5SpeechGenerator, PromptVoices
from .loader import file_label, is_f5_file, is_vocos_file, load_f5_dit, load_vocos
from .speaker_mapper import F5SpeakerMapper
from .text import F5TextFrontEnd, read_vocab
from .text_encoder import F5TextEncoder


def find_f5_files(paths: Sequence[str]) -> tuple[str | None, str | None]:
    """(the F5-TTS speech model, the Vocos vocoder) among `paths`, by what their headers hold."""
    speech = vocoder = None
    for path in paths:
        shapes = inspect_checkpoint(path).shapes
        if is_f5_file(shapes):
            speech = _one(speech, path, "F5-TTS speech models")
        elif is_vocos_file(shapes):
            vocoder = _one(vocoder, path, "Vocos vocoders")
    return speech, vocoder


def _one(found: str | None, path: str, what: str) -> str:
    if found is not None:
        raise TavidError(f"two {what}: {file_label(found)} and {file_label(path)}", where="engines",
                         fix="Give one of each: the F5-TTS model and the Vocos vocoder.")
    return path


def vocab_beside(path: str) -> str:
    """vocab.txt in the speech model's folder (or the folder above it)."""
    folder = os.path.dirname(os.path.abspath(path))
    for candidate in (os.path.join(folder, VOCAB_FILE), os.path.join(os.path.dirname(folder), VOCAB_FILE)):
        if os.path.isfile(candidate):
            return candidate
    raise EngineUnavailableError(f"there is no {VOCAB_FILE} beside it", where=file_label(path),
                                 fix=f"Download F5TTS_v1_Base/{VOCAB_FILE} from the SWivid/F5-TTS model page into the "
                                     "folder of the model file.")


def load_f5_side(paths: Sequence[str], *, faces: SpeakerMapper, prompt_voices: PromptVoices, dtype: str = "auto",
                 device: torch.device | None = None, cfg: F5DiTConfig = F5_V1_BASE) -> dict[str, object]:
    """The F5-TTS text encoder, speech model and speaker mapper from `paths`, by block ({} when no file is
    F5-TTS's). `faces` maps a face to a built-in voice, `prompt_voices` speaks it as a prompt; `cfg` is the
    network's size (F5TTS_v1_Base; its vocabulary is vocab.txt's)."""
    speech, vocoder = find_f5_files(paths)
    if speech is None and vocoder is None:
        return {}
    if speech is None or vocoder is None:
        have, lacking = (file_label(speech), f"the Vocos vocoder ({VOCOS_FILE})") if speech else \
            (file_label(vocoder), f"the F5-TTS speech model ({F5_FILE})")
        raise EngineUnavailableError(f"F5-TTS needs its speech model and its vocoder together; missing: {lacking}",
                                     where=have, fix="Give both files (README: F5-TTS voices).")
    vocab = read_vocab(vocab_beside(speech))
    front = F5TextFrontEnd(vocab)
    generator = F5SpeechGenerator(load_f5_dit(speech, replace(cfg, vocab_size=len(vocab))), load_vocos(vocoder), front,
                                  precision=precision_for(dtype, device or torch.device("cpu")),
                                  prompt_voices=prompt_voices)
    return {"text_encoder": F5TextEncoder(front), "speech_model": generator, "speaker_mapper": F5SpeakerMapper(faces)}
