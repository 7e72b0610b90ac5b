"""``python -m rumor``: the same command line as the ``rumor`` script."""

from __future__ import annotations

from rumor.cli import main

raise SystemExit(main())
