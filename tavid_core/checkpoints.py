"""TAVID checkpoints: safetensors files, never pickles, with the configuration in the metadata.

A checkpoint holds one block or a bundle; tensor names start with the block they belong to
(`text_encoder.`, `speech_model.`, `vocoder.`, `speaker_mapper.`, `motion_mapper.`, `face_model.`) and
the metadata key `tavid_config` holds a JSON object of per-block configurations. A block's configuration
may list the shapes of its tensors (`"shapes": {"speech_model.proj.weight": [512, 256]}`); they are checked
against the file, so weights of another model size fail here instead of deep inside torch.

Nothing here unpickles: the header is read with a size limit before safetensors opens the file, and a
pickle renamed to .safetensors is recognised and refused, never loaded.

This module is the file format only: headers, shapes, reading a block into a network, writing whole
files, and the keys of every configuration section. Which engines a file makes is engines/load.py's work.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

from .errors import TavidError
from .limits import MAX_HEADER_BYTES

if TYPE_CHECKING:
    from torch import nn

BLOCKS = ("text_encoder", "speech_model", "vocoder", "speaker_mapper", "motion_mapper", "face_model")
CONFIG_KEY = "tavid_config"
# the sections of `tavid_config`: each block's saved configuration (and the settings of a LoRA file)
SPEECH_SECTION = "speech"     # the SpeechSideConfig of the text encoder, speech model, vocoder, speaker mapper
MOTION_SECTION = "motion"     # the MotionMapperConfig
FACE_SECTION = "face"         # the face denoiser's FaceDiffusionConfig
VAE_SECTION = "face_vae"      # our FaceVAEConfig, or {"sd": "sd1"|"sdxl"} for a Stable Diffusion VAE
LORA_SECTION = "lora"         # a LoRA file's rank, alpha and block
# What each block is, in the words of the README, for messages about a file of the wrong kind.
BLOCK_NAMES = {"text_encoder": "text encoder", "speech_model": "speech model",
               "vocoder": "vocoder (the part of speech generation that makes the sound)",
               "speaker_mapper": "speaker mapper", "motion_mapper": "motion mapper", "face_model": "face model"}
DAMAGED_FIX = "Check that the download finished and the file is a .safetensors checkpoint."
METADATA_FIX = "Fix the file's metadata, or download the file again."
LFS_POINTER = b"version "   # a Git LFS pointer file starts "version https://git-lfs.github.com/spec/v1"
PICKLE_SIGNATURES = (b"PK\x03\x04",) + tuple(b"\x80" + bytes([p]) for p in range(2, 6))  # torch.save zip, pickle 2-5


@dataclass(frozen=True)
class CheckpointInfo:
    path: str
    blocks: dict[str, int]   # block -> number of tensors
    other: int               # tensors that belong to no known block
    config: dict
    metadata: dict
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # tensor -> shape, from the header


def _unreadable(reason: str, name: str) -> TavidError:
    return TavidError(f"not a readable safetensors file: {reason}", where=name, fix=DAMAGED_FIX)


def read_header(path: str) -> dict:
    """The JSON header of a safetensors file, checked before safetensors opens it: a damaged or hostile file
    can claim a header of any size, and a cut-off download must say so instead of failing in Rust."""
    name = os.path.basename(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            start = f.read(9)  # the header's length, then the first byte of its JSON
            if len(start) < 9:
                raise _unreadable(f"it is only {size} bytes long", name)
            if start[8:9] != b"{":
                if start.startswith(LFS_POINTER):
                    raise TavidError("it is a Git LFS pointer (a small text file naming the weights), not the "
                                     "weights themselves", where=name,
                                     fix="Download the file itself (git lfs pull, or the file's download link).")
                if start.startswith(PICKLE_SIGNATURES):
                    raise TavidError("it is a pickle (a PyTorch .pt/.ckpt/.bin file) renamed to .safetensors; "
                                     "pickles can run code when loaded, so TAVID never opens them", where=name,
                                     fix="Download the .safetensors version of the model instead.")
                raise _unreadable("it does not start with a safetensors header", name)
            length = int.from_bytes(start[:8], "little")
            if length > MAX_HEADER_BYTES:
                raise _unreadable(f"its header claims {length:,} bytes, over the {MAX_HEADER_BYTES // 2**20} MiB "
                                  "a checkpoint's header may have", name)
            if 8 + length > size:
                raise _unreadable(f"it is cut off inside its header ({size:,} of at least {8 + length:,} bytes)", name)
            f.seek(8)
            text = f.read(length)
    except FileNotFoundError:
        raise TavidError("no such checkpoint file", where=name, fix="Check the file's name and folder.") from None
    except OSError as e:  # a folder, a file without read permission
        raise TavidError(f"cannot read the file ({e.strerror or e})", where=name, fix=DAMAGED_FIX) from None
    try:
        header = json.loads(text)
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        raise _unreadable("its header is damaged", name) from None
    if 8 + length + end < size:  # safetensors would call this "metadata incomplete"
        raise _unreadable(f"it has {size - 8 - length - end:,} stray bytes after its last tensor", name)
    if 8 + length + end > size:
        raise _unreadable(f"it is cut off inside its tensors ({size:,} of {8 + length + end:,} bytes)", name)
    return header


def inspect_checkpoint(path: str) -> CheckpointInfo:
    """Read a checkpoint's header (tensor names and metadata) without loading any weights."""
    from safetensors import safe_open
    name = os.path.basename(path)
    if not path.lower().endswith(".safetensors"):
        raise TavidError("only .safetensors checkpoints are read (pickled .ckpt/.pt/.bin files can run code)",
                         where=name, fix="Convert the file to safetensors.")
    header = read_header(path)
    try:  # safetensors still checks what the header check does not: dtypes, sizes, overlapping offsets
        with safe_open(path, framework="pt") as f:
            keys = list(f.keys())
            metadata = dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for damaged headers
        raise _unreadable(str(e), name) from None
    blocks: dict[str, int] = {}
    other = 0
    for key in keys:
        block = key.split(".", 1)[0]
        if block in BLOCKS:
            blocks[block] = blocks.get(block, 0) + 1
        else:
            other += 1
    config = {}
    if CONFIG_KEY in metadata:
        try:
            config = json.loads(metadata[CONFIG_KEY])
        except json.JSONDecodeError:
            raise TavidError(f"its {CONFIG_KEY} metadata is not valid JSON", where=name, fix=METADATA_FIX) from None
        if not isinstance(config, dict):
            raise TavidError(f"its {CONFIG_KEY} metadata is not a JSON object of block settings", where=name,
                             fix=METADATA_FIX)
    shapes = {key: tuple(header[key]["shape"]) for key in keys}
    info = CheckpointInfo(path=path, blocks=blocks, other=other, config=config, metadata=metadata, shapes=shapes)
    check_shapes(_declared_shapes(config, name), info, by=f"its {CONFIG_KEY}")
    return info


def _declared_shapes(config: dict, name: str) -> dict[str, tuple[int, ...]]:
    declared = {}
    for block, settings in config.items():
        if not isinstance(settings, dict) or "shapes" not in settings:
            continue
        try:
            declared.update({key: tuple(int(d) for d in shape) for key, shape in settings["shapes"].items()})
        except (TypeError, ValueError, AttributeError):
            raise TavidError(f"the shapes its {CONFIG_KEY} gives for {block} are not lists of whole numbers",
                             where=name, fix=METADATA_FIX) from None
    return declared


def check_shapes(expected: Mapping[str, Sequence[int]], checkpoint: "str | CheckpointInfo", *,
                 by: str = "the network") -> None:
    """Refuse a checkpoint whose tensors lack a name or a shape `by` expects, before any weight is read.
    Neural loaders call it with their networks' shapes; inspect_checkpoint with the shapes the file declares."""
    info = checkpoint if isinstance(checkpoint, CheckpointInfo) else inspect_checkpoint(checkpoint)
    wrong = []
    for key, shape in expected.items():
        found = info.shapes.get(key)
        if found is None:
            wrong.append(f"{key} is missing")
        elif tuple(found) != tuple(shape):
            wrong.append(f"{key} is {list(found)}, {by} expects {list(shape)}")
    if wrong:
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise TavidError("tensors are missing or have the wrong shape: " + "; ".join(wrong[:3]) + more,
                         where=os.path.basename(info.path),
                         fix="The file is for another model size or version: use the checkpoint made for this one.")


def _held(info: CheckpointInfo) -> str:
    """What a checkpoint holds, in the README's words."""
    names = [BLOCK_NAMES[b] for b in BLOCKS if b in info.blocks]
    return "weights of the " + " and the ".join(names) if names else "no TAVID weights"


def load_lora(path: str, targets: Sequence[str]) -> CheckpointInfo:
    """The header of a LoRA for the connected models (`targets`: block names such as "speech_model"),
    checked to hold weights for one of them; which of them it patches is `info.blocks`. Nothing but the
    header is read: applying it is the engine's work (engines/neural/lora/ for the neural engines)."""
    info = inspect_checkpoint(path)
    name = os.path.basename(path)
    if not any(block in info.blocks for block in targets):
        wanted = " or the ".join(BLOCK_NAMES[b] for b in targets)
        raise TavidError(f"this LoRA holds {_held(info)}, nothing for the {wanted} connected to the loader",
                         where=name, fix="Pick a LoRA made for the connected model, or connect the model it was made for.")
    return info


def _for_file(tensors: Mapping) -> dict:
    """CPU, contiguous, and no two names on one storage (safetensors refuses tied tensors)."""
    out, seen = {}, set()
    for name, tensor in tensors.items():
        t = tensor.detach().to("cpu").contiguous()
        if t.numel() and t.untyped_storage().data_ptr() in seen:
            t = t.clone()
        if t.numel():
            seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def write_checkpoint(path: str, tensors: Mapping, metadata: Mapping[str, str]) -> None:
    """Write a safetensors file whole or not at all: under a hidden name first, synced, then renamed into
    place, so an interrupted or failed write leaves the previous file (or none), never a torn one."""
    import safetensors.torch

    from .media.files import disk_error, partial_path, remove_quietly
    temp = partial_path(path)
    try:
        safetensors.torch.save_file(_for_file(tensors), temp, metadata=dict(metadata))
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError as e:
        remove_quietly(temp)
        raise disk_error(e, path) from None
    except BaseException:
        remove_quietly(temp)
        raise


def saved_config(info: CheckpointInfo, section: str, what: str, plural: bool = False) -> dict:
    """The configuration a block was saved with (`tavid_config[section]`); a file whose networks came without
    it was not written by TAVID. `what` names what the file holds ("a face model", "speech networks")."""
    if section not in info.config:
        trained = "they were" if plural else "it was"
        raise TavidError(f"it holds {what} but not the configuration {trained} trained with",
                         where=os.path.basename(info.path), fix="Use a checkpoint written by `tavid train` or `tavid bundle`.")
    return info.config[section]


def load_block(network: nn.Module, prefix: str, info: CheckpointInfo, by: str) -> None:
    """Fill `network` with the file's tensors under `prefix` (e.g. "vocoder." or "face_model.vae."), after
    checking their names and shapes against it (`by`: whose shapes these are, for the message)."""
    from safetensors import safe_open
    expected = {prefix + k: tuple(v.shape) for k, v in network.state_dict().items()}
    check_shapes(expected, info, by=by)
    with safe_open(info.path, framework="pt") as f:
        state = {key[len(prefix):]: f.get_tensor(key) for key in f.keys() if key.startswith(prefix)}
    extra = sorted(set(state) - {k[len(prefix):] for k in expected})
    if extra:
        raise TavidError(f"it has tensors {by} does not: {', '.join(extra[:3])}",
                         where=os.path.basename(info.path), fix="Use the checkpoint made for this version.")
    network.load_state_dict(state)
