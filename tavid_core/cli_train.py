"""The training commands of `tavid`:

    tavid train speech|vocoder|speaker-mapper --config tiny|small|base --data MANIFEST.jsonl --steps N --out DIR
    tavid bundle OUT.safetensors IN.safetensors ...   join trained blocks into one checkpoint
    tavid demo-data --out DIR                         a tiny real data set made with the built-in voices

Typical order: speech, then vocoder (independent of speech), then speaker-mapper --init the speech
run's file; `tavid bundle` the three outputs and use the bundle with `tavid generate --engines`.
`tavid train speech --init SPEECH.safetensors --lora-rank 8 ...` trains only a LoRA on the speech model's
attention and writes DIR/speech_lora.safetensors, for the LoRA Loader node.
Under torchrun every process runs the same command (data parallel).
"""
from __future__ import annotations

import argparse

from .errors import TavidError

TASKS = ("speech", "vocoder", "speaker-mapper")


def _task(args, config, records):
    if args.lora_rank is not None and args.task != "speech":
        raise TavidError(f"LoRAs are trained on the speech model only, not with tavid train {args.task}",
                         where="--lora-rank", fix="Leave --lora-rank out, or train speech.")
    if args.task == "speech":
        from .train.tasks.speech import SpeechTask
        if args.lora_rank is not None:
            if not args.init:
                raise TavidError("a LoRA is trained on top of a trained speech model", where="--init",
                                 fix="Pass the speech run's checkpoint: --init runs/speech/speech.safetensors")
            # the LoRA keeps the configuration (and duration rule) the speech model was trained with
            trained_config, networks = _trained_networks(args, config, fill=False)  # every block must be trained
            return SpeechTask(trained_config, records, seed=args.seed, start=networks, lora_rank=args.lora_rank)
        return SpeechTask(config, records, seed=args.seed, start=_init_networks(args, config))
    if args.task == "vocoder":
        from .train.tasks.vocoder import VocoderTask
        return VocoderTask(config, records, seed=args.seed, adversarial_from=args.adversarial_from)
    from .train.tasks.speaker_mapper import SpeakerMapperTask
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
    from .engines.neural.loader import SPEECH_BLOCKS, load_speech_networks, speech_networks
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


def cmd_train(args) -> int:
    from .engines.neural.configs import speech_config
    from .train.manifest import read_manifest
    from .train.trainer import Trainer, TrainSettings
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                             precision=args.precision, save_every=args.save_every, seed=args.seed,
                             device=args.device, num_workers=args.num_workers)
    config = speech_config(args.config)
    records = read_manifest(args.data, need_face=args.task == "speaker-mapper")
    task = _task(args, config, records)
    result = Trainer(task, settings, args.out, quiet=args.quiet).run(resume=not args.restart)
    if result.final_path and not args.quiet:
        losses = result.losses
        summary = f"loss {losses[0]:.4f} -> {losses[-1]:.4f} over this run" if losses else "nothing left to train"
        print(f"{result.final_path}: {result.steps_done} steps ({summary})")
    return 0


def cmd_bundle(args) -> int:
    from .engines.neural.bundle import bundle
    path = bundle(args.output, args.inputs)
    print(path)
    return 0


def cmd_demo_data(args) -> int:
    from .runtime import StandaloneRuntime
    from .train.synth import make_tiny_dataset
    print(make_tiny_dataset(args.out, clips_per_speaker=args.clips, seed=args.seed,
                            runtime=StandaloneRuntime(device="cpu", quiet=args.quiet)))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from .engines.neural.configs import PRESETS
    train = sub.add_parser("train", help="train a block of the neural speech side",
                           description="Train one TAVID block on a JSONL manifest (see the README, Training). "
                                       "Writes DIR/<block>.safetensors (EMA weights, a TAVID checkpoint; "
                                       "with --lora-rank DIR/speech_lora.safetensors, a LoRA), "
                                       "DIR/resume.safetensors and DIR/log.jsonl; runs again continue where they "
                                       "stopped.")
    train.add_argument("task", choices=TASKS)
    train.add_argument("--config", default="small", choices=PRESETS, help="network size (default: %(default)s)")
    train.add_argument("--data", required=True, metavar="MANIFEST", help="JSONL manifest of clips")
    train.add_argument("--steps", type=int, required=True, help="optimiser steps in total")
    train.add_argument("--out", required=True, metavar="DIR", help="output folder")
    train.add_argument("--init", nargs="+", metavar="CKPT",
                       help="start from trained networks (speaker-mapper: the speech run's checkpoint)")
    train.add_argument("--lora-rank", type=int, metavar="R",
                       help="speech: train only a LoRA of rank R on the attention of the --init speech model; "
                            "writes DIR/speech_lora.safetensors")
    train.add_argument("--batch-size", type=int, default=8, help="clips per step and process (default: %(default)s)")
    train.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (default: %(default)s)")
    train.add_argument("--warmup", type=int, default=100, help="warm-up steps (default: %(default)s)")
    train.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                       help="auto: bf16 on GPUs that have it, else fp32 (default: %(default)s)")
    train.add_argument("--adversarial-from", type=int, default=2000, metavar="STEP",
                       help="vocoder: step at which the discriminators join (default: %(default)s)")
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

