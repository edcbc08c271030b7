"""Queue a UI-format workflow in a running ComfyUI and wait for its outputs (a manual integration check).

    python tests/comfyui/run_workflow.py "workflows/TAVID conversation, zero downloads.json" \
        --server http://127.0.0.1:8188 --comfyui /path/to/ComfyUI

It converts the workflow with the server's own node definitions, posts it, waits for the result and prints
the files it wrote; nothing is prepared beforehand (the templates' portraits are the pack's samples). Run it
from the repository with any Python that has the pack's requirements (ComfyUI's own, say).

With `--script FILE` the Dialogue Script speaks that file instead (a long dialogue, say). With `--thumbnail` it
then writes the template's thumbnail beside it (NAME.jpg, what the template browser
shows): two frames of the video it made, one while A speaks and one while B speaks.

With `--interrupt-after SECONDS` it interrupts the run that long after queueing it (as the Cancel
button does), checks that the run ended as interrupted, names the node it stopped in, checks that
output/ holds no new file, and then queues the same graph again, which must succeed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.dirname(TESTS), TESTS]   # tavid_core and this folder's package, with no PYTHONPATH
from comfyui.workflow_format import ui_to_api  # noqa: E402


def _get(server: str, path: str):
    with urllib.request.urlopen(server + path, timeout=60) as r:
        return json.loads(r.read())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workflow")
    parser.add_argument("--server", default="http://127.0.0.1:8188")
    parser.add_argument("--comfyui", required=True, help="the ComfyUI folder (for input/ and output/)")
    parser.add_argument("--timeout", type=float, default=1500)
    parser.add_argument("--interrupt-after", type=float, metavar="SECONDS",
                        help="interrupt the run this long after queueing it, then check and run it again")
    parser.add_argument("--script", metavar="FILE", help="a dialogue script for the Dialogue Script node")
    parser.add_argument("--thumbnail", action="store_true",
                        help="write the template's thumbnail (NAME.jpg beside it) from the video it made")
    args = parser.parse_args()

    with open(args.workflow, encoding="utf-8") as f:
        prompt = ui_to_api(json.load(f), _get(args.server, "/object_info"))
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            script = f.read()
        for node in prompt.values():
            if node["class_type"] == "TAVIDDialogueScript":
                node["inputs"]["script"] = script
    if args.interrupt_after is None:
        status, files = _run(args, prompt)
        if status == "success" and args.thumbnail:
            return _thumbnail(args.workflow, files)
        return 0 if status == "success" else 1
    output = os.path.join(args.comfyui, "output")
    before = _files(output)
    status, _ = _run(args, prompt, interrupt_after=args.interrupt_after)
    new = sorted(_files(output) - before)
    print(f"new files in output/: {new or 'none'}")
    if status != "interrupted" or new:
        return 1
    print("queueing the same graph again")
    return 0 if _run(args, prompt)[0] == "success" else 1


def _thumbnail(workflow: str, files: list[str]) -> int:
    """The template browser's picture of a template: a frame while A speaks above one while B speaks."""
    from tavid_core.media.strip import frame_strip
    videos = [f for f in files if f.endswith(".mp4")]
    if not videos:
        print("the run wrote no video to make a thumbnail of", file=sys.stderr)
        return 1
    print(frame_strip(videos[0], os.path.splitext(workflow)[0] + ".jpg", count=2, columns=1, width=400))
    return 0


def _files(folder: str) -> set[str]:
    return {os.path.join(root, name) for root, _, names in os.walk(folder) for name in names}


def _post(server: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(server + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        text = r.read()
    return json.loads(text) if text.strip() else {}


def _run(args, prompt: dict, interrupt_after: float | None = None) -> tuple[str, list[str]]:
    """Queue `prompt`, wait for it; its status ("success", "error", "interrupted", "timeout") and the files
    it wrote."""
    try:
        prompt_id = _post(args.server, "/prompt", {"prompt": prompt})["prompt_id"]
    except urllib.error.HTTPError as e:
        print("rejected:", e.read().decode(), file=sys.stderr)
        return "rejected", []
    start = time.time()
    while time.time() - start < args.timeout:
        if interrupt_after is not None and time.time() - start >= interrupt_after:
            _post(args.server, "/interrupt", {})
            print(f"interrupt sent after {time.time() - start:.1f} s")
            interrupt_after = None
        history = _get(args.server, f"/history/{prompt_id}")
        if prompt_id in history:
            return _report(args, history[prompt_id], time.time() - start)
        time.sleep(0.5)
    print("timed out", file=sys.stderr)
    return "timeout", []


def _report(args, entry: dict, seconds: float) -> tuple[str, list[str]]:
    status = entry.get("status", {})
    outcome = status.get("status_str")
    for kind, message in status.get("messages", []):
        if kind == "execution_error":
            print("error:", message.get("exception_message"), file=sys.stderr)
        if kind == "execution_interrupted":
            outcome = "interrupted"
            print(f"interrupted in node {message.get('node_id')} ({message.get('node_type')})")
    print(f"status: {outcome} after {seconds:.1f} s")
    files = []
    for node_id, out in entry.get("outputs", {}).items():
        for item in out.get("images", []) + out.get("videos", []):
            path = os.path.join(args.comfyui, item.get("type", "output"), item.get("subfolder", ""), item["filename"])
            print(f"node {node_id}: {path} ({os.path.getsize(path)} bytes)")
            files.append(path)
    return outcome or "error", files


if __name__ == "__main__":
    sys.exit(main())
