"""Queue a UI-format workflow in a running ComfyUI and wait for its outputs (a manual integration check).

    python tests/comfyui/run_workflow.py workflows/tavid_two_person_builtin.json \
        --server http://127.0.0.1:8188 --comfyui /path/to/ComfyUI

It writes the two sample portraits into ComfyUI/input, converts the workflow with the server's own
node definitions, posts it, waits for the result and prints the files it wrote.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workflow_format import ui_to_api  # noqa: E402


def _get(server: str, path: str):
    with urllib.request.urlopen(server + path, timeout=60) as r:
        return json.loads(r.read())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workflow")
    parser.add_argument("--server", default="http://127.0.0.1:8188")
    parser.add_argument("--comfyui", required=True, help="the ComfyUI folder (for input/ and output/)")
    parser.add_argument("--timeout", type=float, default=1500)
    args = parser.parse_args()

    from tavid_core.media import SAMPLE_PORTRAITS, sample_portrait, save_image
    for name in SAMPLE_PORTRAITS:
        save_image(sample_portrait(name), os.path.join(args.comfyui, "input", f"tavid_{name}.png"))

    with open(args.workflow, encoding="utf-8") as f:
        prompt = ui_to_api(json.load(f), _get(args.server, "/object_info"))
    request = urllib.request.Request(args.server + "/prompt", data=json.dumps({"prompt": prompt}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            prompt_id = json.loads(r.read())["prompt_id"]
    except urllib.error.HTTPError as e:
        print("rejected:", e.read().decode(), file=sys.stderr)
        return 1
    start = time.time()
    while time.time() - start < args.timeout:
        history = _get(args.server, f"/history/{prompt_id}")
        if prompt_id in history:
            entry = history[prompt_id]
            status = entry.get("status", {})
            print(f"status: {status.get('status_str')} after {time.time() - start:.1f} s")
            for message in status.get("messages", []):
                if message[0] == "execution_error":
                    print("error:", message[1].get("exception_message"), file=sys.stderr)
                    return 1
            for node_id, out in entry.get("outputs", {}).items():
                for item in out.get("images", []) + out.get("videos", []):
                    path = os.path.join(args.comfyui, item.get("type", "output"), item.get("subfolder", ""),
                                        item["filename"])
                    print(f"node {node_id}: {path} ({os.path.getsize(path)} bytes)")
            return 0 if status.get("status_str") == "success" else 1
        time.sleep(2)
    print("timed out", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
