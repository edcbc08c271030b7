"""The suite runs from a checkout of any folder name. The repository root is also ComfyUI's package (its
`__init__.py`), and pytest imports that file while collecting: as a package when the folder name is an
identifier (`tavid`), as a lone module when it is not (`ComfyUI-TAVID`, the name the README's ComfyUI
install gives it, or `x.y`). A copy of the checkout under each name runs a test module for real."""
import re
import shutil
import subprocess
import sys

import pytest

from helpers.paths import ROOT

PARTS = ("__init__.py", "pyproject.toml", "nodes", "tavid_core", "tests", "workflows")


@pytest.mark.parametrize("name", ["ComfyUI-TAVID", "tavid", "x.y"])
def test_the_suite_runs_in_a_checkout_named(name, tmp_path):
    checkout = tmp_path / name
    checkout.mkdir()
    for part in PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, checkout / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, checkout / part)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dialogue.py",
                          "tests/nodes/test_nodes.py::test_pack_registers_through_comfy_entrypoint_only"],
                         cwd=checkout, capture_output=True, text=True, timeout=300)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 30 and "error" not in summary, summary
