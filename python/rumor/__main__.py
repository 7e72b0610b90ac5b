"""``python -m rumor``: the same command line as the ``rumor`` script."""

from __future__ import annotations

import sys

try:
    from rumor.cli import main

    status = main()
except KeyboardInterrupt:
    # Ctrl-C before a command installed its own handling (while importing,
    # say): the shell's status for SIGINT, without a traceback.
    print(file=sys.stderr)
    status = 130
raise SystemExit(status)
