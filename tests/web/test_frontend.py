"""The frontend extension (web/): its pure functions under Node's own test runner (`node --test`, the *.test.mjs
beside this file), and the files ComfyUI serves: the folder the pack names, and every module it imports."""
import re
import shutil
import subprocess

import pytest

from helpers.paths import ROOT

WEB = ROOT / "web"


def test_node_test_runner_passes_the_frontend_tests():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the frontend's tests (tests/web/*.test.mjs) need `node --test`")
    run = subprocess.run([node, "--test", "tests/web/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    counts = dict(re.findall(r"^# (pass|fail) (\d+)$", run.stdout, re.MULTILINE))
    assert run.returncode == 0 and counts.get("fail") == "0", run.stdout[-4000:] + run.stderr[-2000:]
    assert int(counts["pass"]) >= 9, run.stdout[-2000:]


def test_the_pack_serves_its_web_folder_and_every_import_is_there():
    text = (ROOT / "__init__.py").read_text(encoding="utf-8")
    folder = re.search(r'^WEB_DIRECTORY = "(.+?)"', text, re.MULTILINE).group(1)
    assert (ROOT / folder).resolve() == WEB.resolve()
    modules = sorted(WEB.rglob("*.js"))
    assert WEB / "tavid.js" in modules
    for module in modules:
        for target in re.findall(r'^import .* from "(\.[^"]+)";$', module.read_text(encoding="utf-8"), re.MULTILINE):
            if target.startswith("../../scripts/"):   # the frontend's own modules, beside /extensions
                assert module.parent == WEB, f"{module.name} imports {target} from a folder where it does not resolve"
                continue
            assert (module.parent / target).resolve().is_file(), f"{module.relative_to(ROOT)} imports {target}"
