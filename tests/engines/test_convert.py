"""`tavid convert` before any engine brings a converter: what every original goes through. Real files
written with torch.save; the weights-only loader is torch's own."""
import collections

import pytest
import torch

from tavid_core.cli import main
from tavid_core.engines.convert import convert_original
from tavid_core.errors import TavidError


class Payload:
    """Any object a full unpickle would build (and could run code for)."""


def test_a_file_with_python_objects_is_refused_unread(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"weight": torch.zeros(2), "extra": Payload()}, path)
    with pytest.raises(TavidError, match=r"more than weights: a Python object \(.*Payload\)") as caught:
        convert_original(str(path), str(tmp_path / "out"))
    assert caught.value.where == "model.pth" and "never runs code" in caught.value.fix
    assert not (tmp_path / "out").exists()


def test_weights_of_an_unknown_model_name_what_can_be_converted(tmp_path):
    path = tmp_path / "other.bin"
    torch.save(collections.OrderedDict(weight=torch.zeros(2, 2)), path)
    with pytest.raises(TavidError, match="not the weights of a model TAVID can convert") as caught:
        convert_original(str(path), str(tmp_path))
    assert caught.value.fix.startswith("Convertible models:")


@pytest.mark.parametrize("name, content, words", [
    ("model.safetensors", b"", "needs no conversion"),
    ("model.pth", b"\x80\x02not a zip nor a pickle", "cannot read it as PyTorch weights: its data is damaged"),
    ("model.bin", b"PK\x03\x04cut", "cannot read it as PyTorch weights"),
    ("model.pt", None, "no such file"),
])
def test_files_that_are_not_originals_get_one_line(tmp_path, capsys, name, content, words):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    assert main(["convert", str(tmp_path / name), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and name in err[0]
