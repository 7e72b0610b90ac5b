"""Progress of a long simulation run, shown on stderr once it is slow."""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any

__all__ = ["Progress"]

DELAY = 2.0
"""Wall seconds a run may take before its progress is shown."""

_REFRESH = 0.2
"""Wall seconds between two updates of the plain progress line."""


class Progress:
    """How far a run from virtual time ``start`` to ``end`` has got.

    Silent for the first :data:`DELAY` seconds of wall time, so short runs
    print nothing; then a tqdm bar when tqdm is installed (a widget in
    Jupyter), else one line on stderr rewritten in place.
    """

    def __init__(self, start: float, end: float, label: str = "rumor.Simulation") -> None:
        self._start = start
        self._total = max(end - start, 0.0)
        self._label = label
        self._began = time.monotonic()
        self._shown_at = 0.0
        self._bar: Any = None
        self._line = False

    def update(self, now: float) -> None:
        """Reports that the run has reached virtual time ``now``."""
        wall = time.monotonic() - self._began
        if wall < DELAY:
            return
        done = min(max(now - self._start, 0.0), self._total)
        if self._bar is None and not self._line:
            self._bar = _tqdm(self._total, self._label)
            self._line = self._bar is None
            if self._bar is not None:
                self._bar.start_t -= wall  # count the silent seconds as elapsed
        if self._bar is not None:
            self._bar.n = round(done, 3)
            self._bar.refresh()
        elif wall - self._shown_at >= _REFRESH:
            self._shown_at = wall
            sys.stderr.write(
                f"\r{self._label}: {done:.2f} of {self._total:.2f} virtual s ({wall:.0f} s wall)"
            )
            sys.stderr.flush()

    def close(self) -> None:
        """Ends the display, if one was started."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._line:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._line = False


def _tqdm(total: float, label: str) -> Any:
    """A tqdm bar over ``total`` virtual seconds, or None without tqdm."""
    try:
        auto = importlib.import_module("tqdm.auto")
    except ImportError:
        return None
    return auto.tqdm(
        total=round(total, 3),
        desc=label,
        unit="virtual s",
        file=sys.stderr,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} virtual s [{elapsed}]",
    )
