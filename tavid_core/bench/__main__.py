"""`python -m tavid_core.bench TARGET ...`: the same as `tavid bench TARGET ...` (see tavid_core/cli/bench.py)."""
import sys

from tavid_core.cli import main

sys.exit(main(["bench", *sys.argv[1:]]))
