"""`python -m tavid_core.cli`: the `tavid` command, for a Python without the installed script (ComfyUI's)."""
import sys

from . import main

sys.exit(main())
