"""The reliability table for checkpoints, LoRAs, file names and security: every damaged, hostile or
misplaced file ends in a TavidError that names the file or the node's field and says what to do; nothing
is ever unpickled; a name from a workflow never reaches outside ComfyUI's folders."""
import ast
import asyncio
import io
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from helpers.paths import ROOT
from helpers.reliability import Row, check_row, clear_error, leaves_nothing_new, rows_as_params
from tavid_core.checkpoints import check_shapes, inspect_checkpoint, load_lora
from tavid_core.engines.load import load_engines
from tavid_core.limits import MAX_HEADER_BYTES

# --- files -------------------------------------------------------------------------------------------

GOOD = {"speech_model.proj.weight": (4, 4), "speech_model.proj.bias": (4,), "vocoder.w": (8,)}
DECLARED = {"speech_model": {"shapes": {"speech_model.proj.weight": [4, 4]}}}  # the config names its shapes
PICKLED = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."  # the protocol-2 bytes of {"a": 1}, written out so no test imports pickle


def checkpoint(shapes: dict, config=None) -> bytes:
    metadata = {"tavid_config": json.dumps(config)} if config is not None else None
    return save({name: torch.zeros(shape) for name, shape in shapes.items()}, metadata=metadata)


def cut(inside: str) -> bytes:
    data = checkpoint(GOOD, DECLARED)
    header = int.from_bytes(data[:8], "little")
    return data[:8 + header // 2] if inside == "header" else data[:(8 + header + len(data)) // 2]


def torch_saved(**options) -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer, **options)  # writing only: nothing here reads a pickle
    return buffer.getvalue()


def raw(header: dict, data: int) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + bytes(data)


def sparse_header_over_limit(path: Path) -> None:
    """A file that claims one byte more header than allowed and is long enough to hold it (sparse, so free)."""
    with open(path, "wb") as f:
        f.write((MAX_HEADER_BYTES + 1).to_bytes(8, "little") + b"{")
        f.truncate(8 + MAX_HEADER_BYTES + 64)


FILES = {  # kind -> how to write it
    "good": lambda p: p.write_bytes(checkpoint(GOOD, DECLARED)),
    "cut_in_header": lambda p: p.write_bytes(cut("header")),
    "cut_in_tensors": lambda p: p.write_bytes(cut("tensors")),
    "stray_bytes": lambda p: p.write_bytes(checkpoint(GOOD) + b"\0\0"),
    "pickle": lambda p: p.write_bytes(PICKLED),
    "torch_zip": lambda p: p.write_bytes(torch_saved()),
    "torch_legacy": lambda p: p.write_bytes(torch_saved(_use_new_zipfile_serialization=False)),
    "huge_header": lambda p: p.write_bytes((2**40).to_bytes(8, "little") + b"{}"),
    "header_over_limit": sparse_header_over_limit,
    "empty": lambda p: p.write_bytes(b""),
    "three_bytes": lambda p: p.write_bytes(b"\x01\x02\x03"),
    "text": lambda p: p.write_bytes(b"this is a text file, not weights\n"),
    "header_nonsense": lambda p: p.write_bytes((10).to_bytes(8, "little") + b'{"a": [1]}'),
    "overlapping": lambda p: p.write_bytes(raw({"a.w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                                "b.w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, 12)),
    "shapes_differ": lambda p: p.write_bytes(checkpoint({**GOOD, "speech_model.proj.weight": (4, 8)}, DECLARED)),
    "undeclared_4x8": lambda p: p.write_bytes(checkpoint({**GOOD, "speech_model.proj.weight": (4, 8)})),
    "config_a_list": lambda p: p.write_bytes(checkpoint(GOOD, [1, 2])),
    "shapes_in_words": lambda p: p.write_bytes(checkpoint(GOOD, {"speech_model": {"shapes": {
        "speech_model.proj.weight": ["four", 4]}}})),
    "vocoder_only": lambda p: p.write_bytes(checkpoint({"vocoder.w": (8,)})),
    "face_only": lambda p: p.write_bytes(checkpoint({"face_model.w": (8,)})),
    "other_model": lambda p: p.write_bytes(checkpoint({"model.diffusion_model.w": (8,)})),
}


def write(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}.safetensors"
    FILES[kind](path)
    return path


DOWNLOAD = "check that the download finished"
FILE_ROWS = [Row(name, kind, words, f"{kind}.safetensors") for name, kind, words in [
    ("a good checkpoint", "good", None),
    ("cut in the middle of its header", "cut_in_header", ("cut off inside its header", DOWNLOAD)),
    ("cut in the middle of its tensors", "cut_in_tensors", ("cut off inside its tensors", DOWNLOAD)),
    ("bytes after its last tensor", "stray_bytes", ("stray bytes after its last tensor", DOWNLOAD)),
    ("a pickle renamed .safetensors", "pickle", ("is a pickle", "can run code", "never opens them",
                                                 "download the .safetensors version")),
    ("torch.save's zip renamed", "torch_zip", ("is a pickle", "never opens them")),
    ("an old torch.save pickle renamed", "torch_legacy", ("is a pickle", "never opens them")),
    ("a header claiming 1 TiB", "huge_header", ("header claims 1,099,511,627,776 bytes", "100 mib", DOWNLOAD)),
    ("a header one byte over the limit", "header_over_limit", (f"header claims {MAX_HEADER_BYTES + 1:,} bytes",)),
    ("an empty file", "empty", ("only 0 bytes long", DOWNLOAD)),
    ("three bytes", "three_bytes", ("only 3 bytes long",)),
    ("a text file", "text", ("does not start with a safetensors header", DOWNLOAD)),
    ("a header of nonsense", "header_nonsense", ("its header is damaged", DOWNLOAD)),
    ("overlapping tensors", "overlapping", ("not a readable safetensors file", "invalid offset", DOWNLOAD)),
    ("shapes unlike its config", "shapes_differ", (
        "speech_model.proj.weight is [4, 8], its tavid_config expects [4, 4]", "use the checkpoint made for")),
    ("undeclared shapes", "undeclared_4x8", None),
    ("a config that is a list", "config_a_list", ("tavid_config metadata is not a json object", "fix the file")),
    ("shapes in words", "shapes_in_words", ("shapes its tavid_config gives for speech_model are not lists",)),
    ("only a vocoder", "vocoder_only", None),
    ("only a face model", "face_only", None),
    ("another model's checkpoint", "other_model", None),
]]
# What loading says of the files that inspect accepts: these hand-made files hold speech tensors without the
# configuration `tavid train` writes.
UNTRAINED = ("holds speech networks but not the configuration they were trained with", "tavid train")
LOADED = {"good": UNTRAINED, "undeclared_4x8": UNTRAINED, "vocoder_only": UNTRAINED,
          "face_only": ("holds a face model but not the configuration it was trained with", "tavid train"),
          "other_model": ("holds no tavid networks", "another kind of model", "move it to the folder")}


def loading_words(row: Row) -> tuple[str, ...]:
    return row.expect or LOADED[row.value]


@pytest.mark.parametrize("row", rows_as_params(FILE_ROWS))
def test_inspect_checkpoint(row, tmp_path):
    path = write(tmp_path, row.value)
    info = check_row(row, lambda: inspect_checkpoint(str(path)))
    if row.expect is None:
        assert sum(info.blocks.values()) + info.other == len(info.shapes)


@pytest.mark.parametrize("row", rows_as_params(FILE_ROWS))
def test_load_engines(row, tmp_path):
    path = write(tmp_path, row.value)
    clear_error(lambda: load_engines(str(path)), loading_words(row), row.where)


@pytest.mark.parametrize("row", rows_as_params([
    Row("a missing file", "missing.safetensors", ("no such checkpoint file", "check the file's name")),
    Row("a folder", "folder.safetensors", ("cannot read the file",)),
    Row("a pickle by its name", "model.ckpt", ("only .safetensors checkpoints are read", "convert")),
]))
def test_what_is_not_a_checkpoint_file(row, tmp_path):
    (tmp_path / "folder.safetensors").mkdir()
    (tmp_path / "model.ckpt").write_bytes(PICKLED)
    clear_error(lambda: inspect_checkpoint(str(tmp_path / row.value)), row.expect, row.value)


# --- shapes and blocks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("row", rows_as_params([
    Row("the same shapes", ("good", None)),
    Row("a same-named tensor of another shape", ("undeclared_4x8", None),
        ("speech_model.proj.weight is [4, 8], the network expects [4, 4]", "another model size")),
    Row("a tensor the network needs is missing", ("good", {"speech_model.out.weight": [4]}),
        ("speech_model.out.weight is missing",)),
    Row("many differences", ("good", {f"speech_model.w{i}": [1] for i in range(5)}), ("and 2 more",)),
    Row("a damaged file", ("cut_in_tensors", None), ("cut off inside its tensors",)),
]))
def test_check_shapes(row, tmp_path):
    """Two files with the same tensor names: the shapes of the good one are what a network expects."""
    kind, expected = row.value
    expected = expected or inspect_checkpoint(str(write(tmp_path, "good"))).shapes
    path = write(tmp_path, kind)
    check_row(row, lambda: check_shapes(expected, str(path)))


@pytest.mark.parametrize("row", rows_as_params([
    Row("vocoder LoRA for the face and speech models", ("vocoder_only", ["face_model", "speech_model"]),
        ("holds weights of the vocoder", "nothing for the face model or the speech model", "pick a lora made")),
    Row("face LoRA where speech is expected", ("face_only", ["speech_model"]),
        ("holds weights of the face model, nothing for the speech model",)),
    Row("another model's LoRA", ("other_model", ["face_model"]), ("holds no tavid weights",)),
    Row("a fitting LoRA", ("face_only", ["face_model", "speech_model"])),
    Row("a pickled LoRA", ("pickle", ["face_model"]), ("is a pickle",)),
]))
def test_load_lora(row, tmp_path):
    kind, targets = row.value
    path = write(tmp_path, kind)
    if row.expect is None:
        assert load_lora(str(path), targets).blocks == {"face_model": 1}
    else:
        clear_error(lambda: load_lora(str(path), targets), row.expect, path.name)


# --- the loader nodes ----------------------------------------------------------------------------------

@pytest.fixture()
def nodes(pack):
    extension = asyncio.run(pack.comfy_entrypoint())
    return {cls.define_schema().node_id: cls for cls in asyncio.run(extension.get_node_list())}


@pytest.mark.parametrize("row", rows_as_params(FILE_ROWS))
def test_checkpoint_loader_node(row, nodes, pack, models_dir):
    write(models_dir / "tavid", row.value)
    loader = nodes["TAVIDCheckpointLoader"]
    with leaves_nothing_new(str(models_dir)):
        clear_error(lambda: loader.execute(ckpt_name=f"{row.value}.safetensors"),
                    loading_words(row), f"TAVID Checkpoint Loader / {row.where}")


class NeuralStandIn:
    """All the LoRA loader asks of a model before reading the LoRA: its family. The file checks are
    reached with it; a LoRA that passes them then finds no speech model to patch."""

    family = "neural"
    name = "neural stand-in"


@pytest.mark.parametrize("row", rows_as_params([
    Row("vocoder LoRA", ("vocoder_only", "face_model"), ("holds weights of the vocoder", "nothing for the face model"),
        "vocoder_only.safetensors"),
    Row("face LoRA where speech is expected", ("face_only", "speech_model"),
        ("holds weights of the face model, nothing for the speech model",), "face_only.safetensors"),
    Row("a fitting LoRA on an engine that takes none", ("face_only", "face_model"),
        ("is not a neural tavid face model a lora could patch",), "face_model"),
    Row("a pickled LoRA", ("pickle", "face_model"), ("is a pickle", "never opens them"), "pickle.safetensors"),
    Row("a cut-off LoRA", ("cut_in_header", "speech_model"), ("cut off inside its header",),
        "cut_in_header.safetensors"),
]))
def test_lora_loader_node(row, nodes, pack, models_dir):
    kind, field = row.value
    write(models_dir / "tavid_loras", kind)
    lora = nodes["TAVIDLoraLoader"]
    clear_error(lambda: lora.execute(lora_name=f"{kind}.safetensors", strength=0.5, **{field: NeuralStandIn()}),
                row.expect, f"TAVID LoRA Loader / {row.where}")


# --- names that try to leave the model folders -----------------------------------------------------------

OUT_OF_FOLDER = ("no file may leave", "leads out of it with '..'", "give a name inside")
NAME_ROWS = [
    Row("climbing out with ..", "../../x.safetensors", OUT_OF_FOLDER),
    Row("climbing out with Windows ..", "..\\..\\x.safetensors", OUT_OF_FOLDER),
    Row("climbing out from a subfolder", "sub/../../x.safetensors", OUT_OF_FOLDER),
    Row("an absolute path", "{outside}", ("is an absolute path", "only files inside")),
    Row("a Windows drive", "C:\\models\\x.safetensors", ("is an absolute path",)),
    Row("a Windows share", "\\\\server\\share\\x.safetensors", ("is an absolute path",)),
    Row("a link to a file outside", "link.safetensors", ("leads through a link to a place outside",
                                                        "not a link leading out of it")),
    Row("a linked folder outside", "linked_dir/x.safetensors", ("leads through a link to a place outside",)),
    Row("a NUL byte", "good\x00.safetensors", ("control or invisible character",)),
    Row("a right-to-left override", "evil\u202egpj.safetensors", ("control or invisible character",)),
    Row("no name", "", ("no file name given",)),
    Row("a missing file", "missing.safetensors", ("no file 'missing.safetensors'", "pick a file from the list")),
    Row("a folder", "folder.safetensors", ("no file 'folder.safetensors'",)),
    Row("a file in a subfolder", "sub/good.safetensors", None),
    Row("a link that stays inside", "inside_link.safetensors", None),
]


@pytest.fixture()
def tree(models_dir):
    """Both model folders with a good file in a subfolder, links in and out, and a good file outside."""
    outside = write(models_dir, "good")  # models_dir itself is outside models/tavid
    (models_dir / "elsewhere").mkdir()
    write(models_dir / "elsewhere", "good").rename(models_dir / "elsewhere" / "x.safetensors")
    for key in ("tavid", "tavid_loras"):
        folder = models_dir / key
        (folder / "sub").mkdir()
        write(folder / "sub", "good")
        (folder / "folder.safetensors").mkdir()
        (folder / "link.safetensors").symlink_to(outside)
        (folder / "linked_dir").symlink_to(models_dir / "elsewhere", target_is_directory=True)
        (folder / "inside_link.safetensors").symlink_to(folder / "sub" / "good.safetensors")
    return outside


@pytest.fixture()
def reads(pack, monkeypatch):
    """Every path whose header the pack's checkpoint code reads."""
    module = sys.modules[f"{pack.__name__}.tavid_core.checkpoints"]
    seen, read_header = [], module.read_header
    monkeypatch.setattr(module, "read_header", lambda path: seen.append(os.path.realpath(path)) or read_header(path))
    return seen


# what each loader says of a good file found inside the folders (a hand-made speech checkpoint)
LOADED_BY = {"TAVID Checkpoint Loader": UNTRAINED, "TAVID LoRA Loader": ("is not a neural tavid speech model",)}


def loader_calls(nodes):
    checkpoint, lora = nodes["TAVIDCheckpointLoader"], nodes["TAVIDLoraLoader"]
    return {"TAVID Checkpoint Loader / ckpt_name": lambda name: checkpoint.execute(ckpt_name=name),
            "TAVID LoRA Loader / lora_name": lambda name: lora.execute(lora_name=name, strength=1.0,
                                                                       speech_model=NeuralStandIn())}


@pytest.mark.parametrize("row", rows_as_params(NAME_ROWS))
def test_names_stay_inside_the_model_folders(row, nodes, pack, tree, reads, models_dir):
    name = row.value.format(outside=tree)
    for where, call in loader_calls(nodes).items():
        if row.expect is None:  # found and read: the files (hand-made speech tensors) are then judged on their own
            clear_error(lambda: call(name), LOADED_BY[where.split(" / ")[0]], where.split(" / ")[0])
        else:
            clear_error(lambda: call(name), row.expect, where)
    outside = {str(tree), str(models_dir / "elsewhere" / "x.safetensors")}
    assert not outside & set(reads), "a file outside the model folders was opened"


def test_lora_at_strength_0_reads_no_file(nodes, pack, reads, models_dir):
    """Strength 0 leaves the model unchanged, so the name is not even looked up."""
    model = NeuralStandIn()
    assert nodes["TAVIDLoraLoader"].execute(lora_name="../../x.safetensors", strength=0.0,
                                            face_model=model).args == (model, None)
    assert not reads


# --- output file names ---------------------------------------------------------------------------------

OUTPUT_ROWS = [
    Row("climbing out", ("../../etc/x", None), ("no file may leave the output folder, and '../../etc/x' leads out of it with '..'",),
        "filename_prefix"),
    Row("climbing out the Windows way", ("..\\..\\x", None), ("no file may leave the output folder",), "filename_prefix"),
    Row("an absolute path", ("/abs", None), ("'/abs' is an absolute path", "give a name inside the output folder"),
        "filename_prefix"),
    Row("a Windows drive", ("C:\\Windows\\x", None), ("is an absolute path",), "filename_prefix"),
    Row("a NUL byte", ("a\x00b", None), ("'a\\x00b' holds a control or invisible character",), "filename_prefix"),
    Row("a newline", ("a\nb", None), ("control or invisible",), "filename_prefix"),
    Row("a right-to-left override", ("clip\u202e4pm.exe", None), ("control or invisible",), "filename_prefix"),
    Row("a lone surrogate", ("a\ud800b", None), ("control or invisible",), "filename_prefix"),
    Row("empty", ("", None), ("no file name given",), "filename_prefix"),
    Row("only dots", ("...", None), ("empty once dots and spaces are removed",), "filename_prefix"),
    Row("too long", ("x" * 300, None), ("longer than 200 bytes", "shorter name"), "filename_prefix"),
    Row("through a linked folder", ("linked/x", None), ("leads through a link to a place outside the output folder",),
        "filename_prefix"),
    Row("CON", ("CON", "CON_")),
    Row("a device name with an extension", ("tavid/com1.take", "tavid/com1_.take")),
    Row("spaces", ("name with spaces", "name with spaces")),
    Row("emoji", ("🎬 dialogue", "🎬 dialogue")),
    Row("a subfolder", ("tavid/take 1", "tavid/take 1")),
    Row("a dot folder", ("./tavid/./x", "tavid/x")),
    Row("characters Windows refuses", ('a<b>c:d"e|f?g*h', "a_b_c_d_e_f_g_h")),
    Row("trailing dots and spaces", ("ends here. . ", "ends here")),
]


@pytest.mark.parametrize("row", rows_as_params(OUTPUT_ROWS))
def test_output_names_stay_inside_output(row, pack, tmp_path, monkeypatch):
    output_path = sys.modules[f"{pack.__name__}.nodes.runtime"].output_path
    out = tmp_path / "output"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    monkeypatch.setenv("TAVID_OUTPUT_DIR", str(out))
    prefix, lands = row.value
    with leaves_nothing_new(str(tmp_path)):
        path = check_row(row, lambda: output_path(prefix))
    if lands is not None:
        assert Path(path).relative_to(out).as_posix() == lands
        assert os.path.commonpath([os.path.realpath(path), str(out.resolve())]) == str(out.resolve())


# --- no unpickling anywhere --------------------------------------------------------------------------------

UNPICKLING_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve",
                      "jsonpickle"}
UNPICKLING_CALLS = {"eval", "exec", "torch.load", "torch.jit.load", "yaml.unsafe_load", "yaml.full_load"}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


def unpickling(source: str) -> list[str]:
    """Each place in `source` that can turn bytes into objects by running code (comments and docstrings,
    being no code, cannot match)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and all(a.name.endswith("Error") for a in node.names):
                continue  # an exception class to catch loads nothing
            found += [f"line {node.lineno}: import {m}" for m in modules if m.split(".")[0] in UNPICKLING_MODULES]
        elif isinstance(node, ast.Call):
            name = dotted(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            loader = keywords.get("Loader", node.args[1] if len(node.args) > 1 else None)
            allow = keywords.get("allow_pickle")
            first = node.args[0] if node.args else None
            if (name in UNPICKLING_CALLS or name.endswith("read_pickle") or name.split(".")[0] in UNPICKLING_MODULES
                    or (name in ("np.load", "numpy.load") and allow is not None
                        and not (isinstance(allow, ast.Constant) and allow.value is False))
                    or (name == "yaml.load" and (loader is None or "SafeLoader" not in dotted(loader)))
                    or (name in ("__import__", "importlib.import_module") and isinstance(first, ast.Constant)
                        and str(first.value).split(".")[0] in UNPICKLING_MODULES)):
                found.append(f"line {node.lineno}: {name}(...)")
    return found


@pytest.mark.parametrize("row", rows_as_params([Row(code, code, None if safe else ("flagged",)) for code, safe in [
    ("import pickle", False), ("from pickle import loads", False), ("from pickle import UnpicklingError", True),
    ("from pickle import UnpicklingError, loads", False), ("import _pickle", False), ("import dill", False),
    ("import cloudpickle", False), ("from joblib import load", False), ("import marshal", False),
    ("marshal.loads(data)", False), ("import shelve", False), ("torch.load(path)", False),
    ("torch.load(path, weights_only=True)", False), ("torch.jit.load(path)", False),
    ("np.load(path, allow_pickle=True)", False), ("numpy.load(path, allow_pickle=flag)", False),
    ("yaml.load(f)", False), ("yaml.load(f, Loader=yaml.Loader)", False), ("yaml.load(f, yaml.FullLoader)", False),
    ("yaml.unsafe_load(f)", False), ("yaml.full_load(f)", False), ("eval(text)", False), ("exec(code)", False),
    ("__import__('pickle')", False), ("importlib.import_module('dill')", False), ("pd.read_pickle(path)", False),
    ("json.load(f)", True), ("onnx.load(path)", True), ("np.load(path)", True),
    ("np.load(path, allow_pickle=False)", True), ("yaml.load(f, Loader=yaml.SafeLoader)", True),
    ("yaml.load(f, yaml.CSafeLoader)", True), ("yaml.safe_load(f)", True), ("model.eval()", True),
    ("safe_open(path, framework='pt')", True), ("x = 1  # pickle.load(f)", True), ('"""torch.load(path)"""', True),
]]))
def test_the_unpickling_scan_sees_each_way_in(row):
    """The scan below is only as good as what it recognises."""
    found = unpickling(row.value)
    if row.expect is None:
        assert not found, found
    else:
        assert len(found) == 1, f"{row.value!r} was not flagged"


CONVERTER = "tavid_core/engines/convert.py"   # `tavid convert`: the one reader of public PyTorch originals


def weights_only_loads(source: str) -> list[str]:
    """The torch.load calls of `source` that pass weights_only=True (torch's restricted unpickler)."""
    return [f"line {node.lineno}: torch.load(...)" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and dotted(node.func) == "torch.load"
            and any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                    for k in node.keywords)]


def test_no_unpickling_in_the_source():
    """Nothing unpickles, but `tavid convert`'s reader, which uses torch's weights-only loader and only there."""
    files = [ROOT / "__init__.py", *sorted((ROOT / "tavid_core").rglob("*.py")), *sorted((ROOT / "nodes").rglob("*.py"))]
    assert len(files) > 20
    found, allowed = [], []
    for f in files:
        source, name = f.read_text(encoding="utf-8"), f.relative_to(ROOT).as_posix()
        exempt = set(weights_only_loads(source)) if name == CONVERTER else set()
        for place in unpickling(source):
            (allowed if place in exempt else found).append(f"{name} {place}")
    assert not found, "code that can unpickle: " + "; ".join(found)
    assert len(allowed) == 1, allowed   # the converter's reader, weights-only
