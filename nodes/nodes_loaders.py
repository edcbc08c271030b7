"""Loaders: where the five engines come from (built in, or a checkpoint), and LoRAs on top."""
from __future__ import annotations

from comfy_api.latest import io

from ..tavid_core.checkpoints import load_lora
from ..tavid_core.engines.builtin import VOICE_SETS, load_builtin_engines
from ..tavid_core.engines.load import load_engines
from ..tavid_core.errors import EngineUnavailableError
from ..tavid_core.limits import PRECISIONS
from . import sockets
from .errors import node_errors
from .runtime import LORA_FOLDER, MODEL_FOLDER, model_files, model_path

NO_FILES = "(no .safetensors files found)"
NO_VAE = "none"
VAE_FOLDER = "vae"   # ComfyUI's own models/vae


class BuiltinEngines(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDBuiltinEngines",
            display_name="TAVID Built-in Engines",
            category=sockets.CATEGORY,
            description="Engines that need no downloads and run on any CPU: neural voices from pip wheels (piper "
                        "'joe', hibari 'heart') with espeak-ng as fallback, dlib face analysis, rule-based talking "
                        "and listening motion, and a face renderer that animates the photo itself.",
            inputs=[
                io.Combo.Input("voices", options=list(VOICE_SETS), default="neural",
                               tooltip="Voices that faces are mapped onto: 'neural' (natural sounding) or "
                                       "'espeak' (robotic, many languages). A voice picked by name always works."),
                io.Int.Input("render_grid", default=16, min=4, max=32, step=1,
                             tooltip="Spacing in pixels of the warp's grid around the head (mouth and chin always "
                                     "get a 4-pixel grid): smaller is finer and slower."),
            ],
            outputs=sockets.engine_outputs(),
        )

    @classmethod
    def execute(cls, voices: str = "neural", render_grid: int = 16) -> io.NodeOutput:
        with node_errors("TAVID Built-in Engines"):
            engines = load_builtin_engines(voices=voices, render_grid=render_grid)
        return io.NodeOutput(*engines.blocks())


class CheckpointLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDCheckpointLoader",
            display_name="TAVID Checkpoint Loader",
            category=sockets.CATEGORY,
            description="Loads trained TAVID networks from a .safetensors checkpoint in models/tavid (from tavid "
                        "train and tavid bundle): any of the neural text encoder, speech generator (with its "
                        "vocoder), speaker mapper, motion mapper and face model (with its VAE, or the Stable "
                        "Diffusion VAE picked in `vae`). Blocks the checkpoint lacks are the built-in ones.",
            inputs=[
                io.Combo.Input("ckpt_name", options=model_files(MODEL_FOLDER) or [NO_FILES],
                               tooltip="A checkpoint in ComfyUI/models/tavid (safetensors only)."),
                io.Combo.Input("dtype", options=list(PRECISIONS), default="auto",
                               tooltip="Weight precision; auto picks what the device does best."),
                io.Combo.Input("device", options=["auto", "cpu", "gpu"], default="auto",
                               tooltip="Where the networks run; auto follows ComfyUI."),
                io.Combo.Input("vae", options=[NO_VAE, *model_files(VAE_FOLDER)], default=NO_VAE, optional=True,
                               tooltip="A Stable Diffusion VAE from models/vae, only for a face model trained on one "
                                       "(a face model with its own VAE needs none)."),
            ],
            outputs=sockets.engine_outputs(),
        )

    @classmethod
    def execute(cls, ckpt_name: str, dtype: str = "auto", device: str = "auto", vae: str = "none") -> io.NodeOutput:
        with node_errors("TAVID Checkpoint Loader"):
            if ckpt_name == NO_FILES:
                raise EngineUnavailableError(
                    "there is no checkpoint in models/tavid", where="ckpt_name",
                    fix="Put a TAVID checkpoint (.safetensors from tavid train / tavid bundle) into ComfyUI/models/tavid "
                        "and refresh, or use the TAVID Built-in Engines loader.")
            vae_path = None if vae in (NO_VAE, None) else model_path(VAE_FOLDER, vae, "vae")
            engines = load_engines(model_path(MODEL_FOLDER, ckpt_name, "ckpt_name"), dtype, device, vae=vae_path)
        return io.NodeOutput(*engines.blocks())


class LoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDLoraLoader",
            display_name="TAVID LoRA Loader",
            category=sockets.CATEGORY,
            description="Applies a LoRA from models/tavid_loras to the neural face model or speech model it was "
                        "made for (from TAVID Checkpoint Loader); chain loaders to apply several. The model coming in "
                        "stays as it is: the patched one is a copy (it adds the patched attention weights to memory). "
                        "Built-in engines have no network to patch: with them, a strength other than 0 is an error.",
            inputs=[
                sockets.FaceModel.Input("face_model", optional=True, tooltip="The face model to patch."),
                sockets.SpeechModel.Input("speech_model", optional=True, tooltip="The speech model to patch."),
                io.Combo.Input("lora_name", options=model_files(LORA_FOLDER) or [NO_FILES],
                               tooltip="A LoRA in ComfyUI/models/tavid_loras (safetensors only)."),
                io.Float.Input("strength", default=1.0, min=-4.0, max=4.0, step=0.05,
                               tooltip="How strongly the LoRA applies; 0 leaves the model unchanged."),
            ],
            outputs=[
                sockets.FaceModel.Output("patched_face_model", display_name="face model",
                                         tooltip="The patched face model (unchanged if none came in)."),
                sockets.SpeechModel.Output("patched_speech_model", display_name="speech model",
                                           tooltip="The patched speech model."),
            ],
        )

    @classmethod
    def execute(cls, lora_name: str, strength: float = 1.0, face_model=None, speech_model=None) -> io.NodeOutput:
        with node_errors("TAVID LoRA Loader"):
            connected = [(model, field) for model, field in ((face_model, "face_model"),
                                                             (speech_model, "speech_model")) if model is not None]
            if not connected:
                raise EngineUnavailableError("neither a face model nor a speech model is connected",
                                             where="inputs", fix="Connect the model the LoRA is for.")
            if strength == 0:  # the model unchanged: the file is not needed, so it is neither looked up nor read
                return io.NodeOutput(face_model, speech_model)
            if all(model.family != "neural" for model, _ in connected):  # said before any file is looked up
                cls._no_network(*connected[0])
            path = model_path(LORA_FOLDER, lora_name, "lora_name")
            info = load_lora(path, [field for _, field in connected])  # the file fits one of the connected models
            patched = {field: cls._patch(model, field, path, strength)
                       for model, field in connected if field in info.blocks}  # the others pass through
            face_model, speech_model = patched.get("face_model", face_model), patched.get("speech_model", speech_model)
        return io.NodeOutput(face_model, speech_model)

    @classmethod
    def _patch(cls, model, field: str, path: str, strength: float):
        """`model` with the LoRA at `path` applied, when it is an engine that takes LoRAs."""
        from ..tavid_core.engines.neural.lora.adapters import apply_loras
        from ..tavid_core.engines.neural.lora.host import LoraHost, not_a_host
        if model.family != "neural":
            cls._no_network(model, field)
        if not isinstance(model, LoraHost):
            raise not_a_host(model, field)
        return apply_loras(model, [(path, strength)])

    @staticmethod
    def _no_network(model, field: str):
        raise EngineUnavailableError(f"the {model.name} engine has no network a LoRA could patch", where=field,
                                     fix="Load neural engines with TAVID Checkpoint Loader, or set strength to 0.")


NODES = [BuiltinEngines, CheckpointLoader, LoraLoader]
