"""The training commands of `tavid`:

    tavid train speech|vocoder|speaker-mapper --config tiny|small|base --data CLIPS.jsonl --steps N --out DIR
    tavid train motion|vae|face --config tiny|small|base --data DYADIC.jsonl --steps N --out DIR
                                [--size 128] [--fps 25] [--cache DIR]
    tavid train face --init VAE.safetensors | --vae SD_VAE.safetensors ...
    tavid bundle OUT.safetensors IN.safetensors ...   join trained blocks into one checkpoint
    tavid demo-data --out DIR                         a tiny real data set made with the built-in voices

Speech side, over a manifest of single-speaker clips (train/data/manifest.py): speech, then vocoder
(independent of speech), then speaker-mapper --init the speech run's file; `tavid bundle` the three
outputs and use the bundle with `tavid generate --engines`.
`tavid train speech|face --init MODEL.safetensors --lora-rank 8 ...` trains only a LoRA on that model's
attention and writes DIR/speech_lora.safetensors or DIR/face_lora.safetensors, for the LoRA Loader node.

Face side, over a manifest of two-person conversations (train/data/dyadic.py): each clip's videos are cut
into face crops of --size pixels, landmarks and motion labels at --fps once, and kept in --cache
(default DIR/cache) for later runs. `motion` trains the motion mapper (DIR/motion.safetensors), `vae`
the face model's autoencoder (DIR/vae.safetensors, the `face_model` block with only its VAE), `face`
the face denoiser on that frozen VAE (--init it) or on a Stable Diffusion VAE (--vae): DIR/face.safetensors,
which renders on its own (it holds our VAE too). Typical order: vae, face, motion; bundle them with the
speech side's files.

Each `tavid train <task>` is one entry of TASKS: a function that reads the task's data from the
command line's arguments and builds its TrainTask; the shared trainer does the rest.
Under torchrun every process runs the same command (data parallel).
"""
from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Callable

from ..errors import TavidError
from ..limits import PRECISIONS

if TYPE_CHECKING:  # torch is imported only when a command needs it
    from ..train.task import TrainTask


# ------------------------------------------------------------------------------------------ data
def _clip_records(args, *, need_face: bool = False):
    """The clips of a speech-side manifest."""
    from ..train.data.manifest import read_manifest
    return read_manifest(args.data, need_face=need_face)


def _dyadic_clips(args):
    """The conversations of a dyadic manifest, prepared (or read from the cache) at --size and --fps."""
    from ..runtime import StandaloneRuntime
    from ..train.data.face_data import prepare_manifest
    cache = args.cache or os.path.join(args.out, "cache")
    # preprocessing is face detection and signal processing: the CPU, the same in every process
    runtime = StandaloneRuntime(device="cpu", quiet=args.quiet)
    return prepare_manifest(args.data, size=args.size, fps=args.fps, cache_dir=cache, runtime=runtime)


def _no_init(args) -> None:
    if args.init:
        raise TavidError(f"tavid train {args.task} starts from new networks", where="--init",
                         fix="Leave --init out.")


# ---------------------------------------------------------------------------------- speech side
def _speech_config(args):
    from ..engines.neural.speech.config import speech_config
    return speech_config(args.config)


def _speech_task(args) -> TrainTask:
    from ..train.tasks.speech import SpeechTask
    config, records = _speech_config(args), _clip_records(args)
    if args.lora_rank is None:
        return SpeechTask(config, records, seed=args.seed, start=_init_networks(args, config))
    if not args.init:
        raise TavidError("a LoRA is trained on top of a trained speech model", where="--init",
                         fix="Pass the speech run's checkpoint: --init runs/speech/speech.safetensors")
    # the LoRA keeps the configuration (and duration rule) the speech model was trained with
    trained_config, networks = _trained_networks(args, config, fill=False)  # every block must be trained
    return SpeechTask(trained_config, records, seed=args.seed, start=networks, lora_rank=args.lora_rank)


def _vocoder_task(args) -> TrainTask:
    from ..train.tasks.vocoder import VocoderTask
    return VocoderTask(_speech_config(args), _clip_records(args), seed=args.seed,
                       adversarial_from=args.adversarial_from)


def _speaker_mapper_task(args) -> TrainTask:
    from ..train.tasks.speaker_mapper import SpeakerMapperTask
    config, records = _speech_config(args), _clip_records(args, need_face=True)
    networks = _init_networks(args, config)
    if networks is None or "speech_model" not in networks:
        raise TavidError("the speaker mapper learns from a trained speech model", where="--init",
                         fix="Pass the speech run's checkpoint: --init runs/speech/speech.safetensors")
    return SpeakerMapperTask(config, records, networks, seed=args.seed)


def _init_networks(args, config):
    """Networks to start from (--init), with untrained ones for the blocks the files lack."""
    return _trained_networks(args, config)[1] if args.init else None


def _trained_networks(args, config, fill: bool = True):
    """The configuration the --init files were trained with, and their networks (with `fill`, untrained
    ones for the blocks the files lack)."""
    from ..engines.neural.speech.loader import SPEECH_BLOCKS, load_speech_networks, speech_networks
    loaded = load_speech_networks(args.init)
    if loaded is None:
        raise TavidError("the file holds no speech networks", where="--init")
    trained_config, networks = loaded
    if trained_config.name != config.name:
        raise TavidError(f"the file was trained with --config {trained_config.name}", where="--init",
                         fix=f"Train with --config {trained_config.name}, or start without --init.")
    if fill:
        networks = speech_networks(trained_config, [b for b in SPEECH_BLOCKS if b not in networks]) | networks
    return trained_config, networks


# ------------------------------------------------------------------------------------ face side
def _motion_task(args) -> TrainTask:
    from ..engines.neural.motion.config import motion_config
    from ..train.tasks.motion import MotionTask
    _no_init(args)
    config = motion_config(args.config)
    return MotionTask(config, _dyadic_clips(args), seed=args.seed)


def _vae_task(args) -> TrainTask:
    from ..engines.neural.face.vae import vae_config
    from ..train.tasks.vae import VaeTask, check_size
    _no_init(args)
    config = vae_config(args.config)
    check_size(args.size, config)  # before the preprocessing, which takes a while
    return VaeTask(config, _dyadic_clips(args), seed=args.seed)


def _face_task(args) -> TrainTask:
    """The face denoiser on a frozen VAE: ours (--init a vae run's file, or a face run's to continue it)
    or a Stable Diffusion one (--vae)."""
    import torch

    from ..checkpoints import VAE_SECTION, inspect_checkpoint
    from ..engines.neural.face.denoiser import face_config
    from ..engines.neural.face.loader import DENOISER, load_face_model, load_face_vae
    from ..engines.neural.face.vae import load_sd_vae
    from ..train.tasks.face import FaceTask
    if bool(args.init) == bool(args.vae):
        raise TavidError("the face model learns in the latent space of a trained VAE: give exactly one", where="--init",
                         fix="--init runs/vae/vae.safetensors (tavid train vae), or --vae a Stable Diffusion VAE.")
    if args.vae:
        vae = load_sd_vae(args.vae)
        config = face_config(args.config, vae=vae.kind, latent_channels=vae.latent_channels)
        return FaceTask(config, vae, {"sd": vae.kind}, _dyadic_clips(args), seed=args.seed)
    info = inspect_checkpoint(args.init[-1])
    if any(k.startswith(DENOISER) for k in info.shapes):  # a face run: continue from its denoiser
        model = load_face_model(info, torch.float32)
        if model.config.name != args.config:
            raise TavidError(f"the file was trained with --config {model.config.name}", where="--init",
                             fix=f"Train with --config {model.config.name}.")
        if args.lora_rank is None:
            model.denoiser.requires_grad_(True).train()
        return FaceTask(model.config, model.vae, info.config[VAE_SECTION], _dyadic_clips(args), seed=args.seed,
                        denoiser=model.denoiser, lora_rank=args.lora_rank)
    if args.lora_rank is not None:
        raise TavidError("a LoRA is trained on top of a trained face model", where="--init",
                         fix="Pass the face run's checkpoint: --init runs/face/face.safetensors")
    vae = load_face_vae(info)
    config = face_config(args.config, latent_channels=vae.latent_channels)
    return FaceTask(config, vae, vae.config.to_dict(), _dyadic_clips(args), seed=args.seed)


TASKS: dict[str, Callable[[argparse.Namespace], TrainTask]] = {
    "speech": _speech_task,
    "vocoder": _vocoder_task,
    "speaker-mapper": _speaker_mapper_task,
    "motion": _motion_task,
    "vae": _vae_task,
    "face": _face_task,
}


# --------------------------------------------------------------------------------------- commands
def cmd_train(args) -> int:
    from ..train.trainer import Trainer, TrainSettings
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                             precision=args.precision, save_every=args.save_every, seed=args.seed,
                             device=args.device, num_workers=args.num_workers)
    if args.lora_rank is not None and args.task not in ("speech", "face"):
        raise TavidError(f"LoRAs are trained on the speech and face models only, not with tavid train {args.task}",
                         where="--lora-rank", fix="Leave --lora-rank out, or train speech or face.")
    task = TASKS[args.task](args)
    result = Trainer(task, settings, args.out, quiet=args.quiet).run(resume=not args.restart)
    if result.final_path and not args.quiet:
        losses = result.losses
        summary = f"loss {losses[0]:.4f} -> {losses[-1]:.4f} over this run" if losses else "nothing left to train"
        print(f"{result.final_path}: {result.steps_done} steps ({summary})")
    return 0


def cmd_bundle(args) -> int:
    from ..engines.bundle import bundle
    path = bundle(args.output, args.inputs)
    print(path)
    return 0


def cmd_demo_data(args) -> int:
    from ..runtime import StandaloneRuntime
    from ..train.data.synth import make_tiny_dataset
    print(make_tiny_dataset(args.out, clips_per_speaker=args.clips, seed=args.seed,
                            runtime=StandaloneRuntime(device="cpu", quiet=args.quiet)))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..engines.neural.common.configs import PRESETS
    train = sub.add_parser("train", help="train a block of the neural engines (speech side or face side)",
                           description="Train one TAVID block (see the README, Training): speech, vocoder and "
                                       "speaker-mapper on a JSONL manifest of clips, motion, vae and face on a JSONL "
                                       "manifest of two-person conversations. Writes DIR/<block>.safetensors (EMA "
                                       "weights, a TAVID checkpoint; with --lora-rank DIR/speech_lora.safetensors "
                                       "or DIR/face_lora.safetensors, a LoRA), DIR/resume.safetensors and "
                                       "DIR/log.jsonl; runs again continue where they stopped.")
    train.add_argument("task", choices=TASKS)
    train.add_argument("--config", default="small", choices=PRESETS, help="network size (default: %(default)s)")
    train.add_argument("--data", required=True, metavar="MANIFEST",
                       help="JSONL manifest: clips (speech, vocoder, speaker-mapper) or conversations (motion, vae, face)")
    train.add_argument("--steps", type=int, required=True, help="optimiser steps in total")
    train.add_argument("--out", required=True, metavar="DIR", help="output folder")
    train.add_argument("--init", nargs="+", metavar="CKPT",
                       help="start from trained networks (speaker-mapper: the speech run's checkpoint)")
    train.add_argument("--lora-rank", type=int, metavar="R",
                       help="speech, face: train only a LoRA of rank R on the attention of the --init model; "
                            "writes DIR/speech_lora.safetensors or DIR/face_lora.safetensors")
    train.add_argument("--batch-size", type=int, default=8,
                       help="examples per step and process: clips, windows or frames (default: %(default)s)")
    train.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (default: %(default)s)")
    train.add_argument("--warmup", type=int, default=100, help="warm-up steps (default: %(default)s)")
    train.add_argument("--precision", default="auto", choices=PRECISIONS,
                       help="auto: bf16 on GPUs that have it, else fp32 (default: %(default)s)")
    train.add_argument("--adversarial-from", type=int, default=2000, metavar="STEP",
                       help="vocoder: step at which the discriminators join (default: %(default)s)")
    train.add_argument("--size", type=int, default=128, metavar="PX",
                       help="motion, vae, face: face crop size in pixels (vae: a multiple of 8; default: %(default)s)")
    train.add_argument("--fps", type=float, default=25.0,
                       help="motion, vae, face: frames per second the videos are read at (default: %(default)s)")
    train.add_argument("--vae", metavar="FILE",
                       help="face: train on this Stable Diffusion VAE (SD 1.x or SDXL) instead of --init our own")
    train.add_argument("--cache", metavar="DIR",
                       help="motion, vae, face: folder for the prepared conversations (default: DIR/cache of --out)")
    train.add_argument("--save-every", type=int, default=1000, help="steps between checkpoints (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--device", default="auto", help="auto, cpu, cuda (default: %(default)s)")
    train.add_argument("--num-workers", type=int, default=0, help="data loading processes (default: %(default)s)")
    train.add_argument("--restart", action="store_true", help="ignore DIR/resume.safetensors and start over")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    train.set_defaults(func=cmd_train)

    bundle = sub.add_parser("bundle", help="join trained blocks into one checkpoint",
                            description="Writes one .safetensors with every block of the inputs (a later file's "
                                        "block replaces an earlier one's), checked to work together.")
    bundle.add_argument("output", help="the bundle to write (.safetensors)")
    bundle.add_argument("inputs", nargs="+", help="checkpoints from tavid train")
    bundle.set_defaults(func=cmd_bundle)

    demo = sub.add_parser("demo-data", help="write a tiny real training set made with the built-in voices",
                          description="Short sentences spoken by the built-in voices joe and heart, with the sample "
                                      "portraits as their faces, and a manifest.jsonl: enough to try tavid train.")
    demo.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    demo.add_argument("--clips", type=int, default=4, help="clips per speaker (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=cmd_demo_data)

