"""``python -m plano_obs``: the same as ``plano``; the leading ``obs`` may be left out."""

import sys

from plano_obs.cli import main

argv = sys.argv[1:]
if not argv or argv[0] not in ("obs", "-h", "--help", "--version"):
    argv = ["obs", *argv]
sys.exit(main(argv))
