"""The README's two set-up commands are the ones CI and users run."""
import re

from helpers.paths import ROOT


def _commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(python3 -m venv .*)\n```", readme)


def test_ci_runs_the_readme_test_command():
    main_job, tests = _commands()[:2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()
    assert tests.endswith("python -m pytest -q") and "torch==2.13.0" in tests.split("&&")[1]
    assert main_job.endswith("tavid generate -o conversation.mp4")


def test_readme_picture_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme):
        assert (ROOT / path).is_file(), path


def test_readme_documents_every_eval_key():
    from tavid_core.eval import metric_keys
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for section, keys in metric_keys().items():
        for key in keys:
            assert f"`{key}`" in readme, f"{section}.{key} is not documented in the README"


def test_requirement_files_match_pyproject():
    tomllib = __import__("pytest").importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def listed(name):
        lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
        return {line.strip() for line in lines if line.strip() and not line.startswith("#")}

    opencv = {d for d in project["dependencies"] if d.startswith("opencv")}
    assert listed("requirements.txt") == {d for d in project["dependencies"] if not d.startswith("torch")} - opencv
    assert listed("requirements-eval.txt") == set(project["optional-dependencies"]["eval"])
    assert listed("requirements-zh.txt") == set(project["optional-dependencies"]["zh"])
    # the ComfyUI route installs OpenCV only where there is none (install.py), the same one pyproject names
    assert opencv == {re.search(r'^OPENCV = "(.+?)"', (ROOT / "install.py").read_text(), re.MULTILINE).group(1)}


def test_the_readme_script_example_parses():
    from tavid_core.dialogue import parse_script
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Dialogue scripts", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    script = "\n".join(line.split("  #")[0] for line in block.splitlines())  # the comments beside each line
    dialogue = parse_script(script)
    assert dialogue.speakers == ("Ada", "Sam") and len(dialogue.turns) == 5
