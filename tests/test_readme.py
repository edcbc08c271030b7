"""The README's two set-up commands are the ones CI and users run."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
