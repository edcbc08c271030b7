"""Loaders: where the five engines come from (built in, or a checkpoint), LivePortrait as the face model, and
LoRAs on top."""
from __future__ import annotations

from comfy_api.latest import io

from ..tavid_core.checkpoints import load_lora
from ..tavid_core.engines.builtin import VOICE_SETS, load_builtin_engines
from ..tavid_core.engines.load import load_engines, load_liveportrait_engine
from ..tavid_core.engines.neural.face.liveportrait.files import DOWNLOAD_FIX, liveportrait_folders
from ..tavid_core.errors import EngineUnavailableError
from ..tavid_core.limits import PRECISIONS
from . import sockets
from .errors import node_errors
from .runtime import (F5_FOLDER, LIVEPORTRAIT_FOLDER, LORA_FOLDER, MODEL_FOLDER, model_files, model_folders, model_path,
                      model_subfolder)

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


class F5Loader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        files = model_files(F5_FOLDER) or [NO_FILES]
        vocoders = [f for f in files if "vocos" in f.lower()] + [f for f in files if "vocos" not in f.lower()]
        models = [f for f in files if "vocos" not in f.lower()] + [f for f in files if "vocos" in f.lower()]
        return io.Schema(
            node_id="TAVIDF5Loader",
            display_name="TAVID F5-TTS Loader",
            category=sockets.CATEGORY,
            description="F5-TTS v1 Base with the Vocos vocoder from models/f5_tts: natural voices that imitate a "
                        "recording connected to each Speaker Mapper (with its transcript), or, without one, the "
                        "built-in voice chosen for the face. The pretrained F5-TTS weights are for non-commercial "
                        "use only (CC-BY-NC-4.0). Motion mapper and face model are the built-in ones.",
            inputs=[
                io.Combo.Input("f5_model", options=models,
                               tooltip="F5TTS_v1_Base/model_1250000.safetensors in ComfyUI/models/f5_tts, with its "
                                       "vocab.txt in the same folder."),
                io.Combo.Input("vocoder", options=vocoders,
                               tooltip="vocos_mel_24khz.safetensors in ComfyUI/models/f5_tts (tavid convert makes it "
                                       "from charactr/vocos-mel-24khz's pytorch_model.bin)."),
                io.Combo.Input("dtype", options=list(PRECISIONS), default="auto",
                               tooltip="Compute precision; auto: bf16 or fp16 on a GPU, fp32 on the CPU."),
                io.Combo.Input("device", options=["auto", "cpu", "gpu"], default="auto",
                               tooltip="Where the networks run; auto follows ComfyUI."),
            ],
            outputs=sockets.engine_outputs(),
        )

    @classmethod
    def execute(cls, f5_model: str, vocoder: str, dtype: str = "auto", device: str = "auto") -> io.NodeOutput:
        with node_errors("TAVID F5-TTS Loader"):
            if NO_FILES in (f5_model, vocoder):
                raise EngineUnavailableError(
                    "there are no F5-TTS files in models/f5_tts", where="f5_model",
                    fix="Put F5TTS_v1_Base/model_1250000.safetensors (with its vocab.txt) and vocos_mel_24khz"
                        ".safetensors into ComfyUI/models/f5_tts and refresh (README: F5-TTS voices).")
            paths = [model_path(F5_FOLDER, f5_model, "f5_model"), model_path(F5_FOLDER, vocoder, "vocoder")]
            engines = load_engines(paths, dtype, device)
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


NO_LIVEPORTRAIT = "(no LivePortrait files found)"


def liveportrait_choices() -> list[str]:
    """The folders holding LivePortrait's files: "liveportrait" (models/liveportrait itself) and
    "liveportrait/<subfolder>" (e.g. the packs' animal/)."""
    found = liveportrait_folders(model_folders(LIVEPORTRAIT_FOLDER))
    return [LIVEPORTRAIT_FOLDER if f == "." else f"{LIVEPORTRAIT_FOLDER}/{f}" for f in found]


class LivePortraitLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDLivePortraitLoader",
            display_name="TAVID LivePortrait Loader",
            category=sockets.CATEGORY,
            description="LivePortrait (KwaiVGI, MIT licence) as the face model: photoreal faces that talk and listen "
                        "as TAVID's motion says, from the five .safetensors files ComfyUI's LivePortrait packs keep "
                        "in models/liveportrait (Kijai/LivePortrait_safetensors). Connect it to the Face Samplers in "
                        "place of a loader's face_model; sampler, steps and cfg do not apply to it.",
            inputs=[
                io.Combo.Input("folder", options=liveportrait_choices() or [NO_LIVEPORTRAIT],
                               tooltip="The folder with appearance_feature_extractor, motion_extractor, "
                                       "warping_module, spade_generator and stitching_retargeting_module "
                                       ".safetensors: models/liveportrait or a subfolder of it."),
                io.Combo.Input("dtype", options=list(PRECISIONS), default="auto",
                               tooltip="Precision on a GPU (auto: bf16 or fp16); a CPU always computes in fp32."),
                io.Combo.Input("device", options=["auto", "cpu", "gpu"], default="auto",
                               tooltip="Where the networks run; auto follows ComfyUI."),
                io.Int.Input("batch", default=0, min=0, max=64,
                             tooltip="Frames drawn at once; 0 picks for the device (8 on a GPU, 2 on a CPU). "
                                     "Lower it if the GPU runs out of memory."),
                io.Boolean.Input("compile", default=False,
                                 tooltip="torch.compile the warping and generator networks on a GPU (the first "
                                         "frames take a minute longer, the rest run faster); ignored on a CPU."),
            ],
            outputs=[sockets.FaceModel.Output("face_model", display_name="face model",
                                              tooltip="LivePortrait, for TAVID Render Video or Face Sampler.")],
        )

    @classmethod
    def execute(cls, folder: str, dtype: str = "auto", device: str = "auto", batch: int = 0,
                compile: bool = False) -> io.NodeOutput:
        with node_errors("TAVID LivePortrait Loader"):
            if folder == NO_LIVEPORTRAIT or not liveportrait_choices():   # a template's folder on a machine without
                raise EngineUnavailableError(f"there are no LivePortrait files in models/{LIVEPORTRAIT_FOLDER}",
                                             where="folder", fix=DOWNLOAD_FIX + " Then refresh.")
            inside = folder.split("/", 1)[1] if "/" in folder else "."
            path = model_subfolder(LIVEPORTRAIT_FOLDER, inside, "folder")
            model = load_liveportrait_engine(path, dtype, device, batch=batch or None, compile=compile)
        return io.NodeOutput(model)


NODES = [BuiltinEngines, CheckpointLoader, F5Loader, LoraLoader, LivePortraitLoader]
