"""When survivors suspect and declare a crashed node: shared by the
benchmark scripts that crash one ``rumor.Node`` of an in-process cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import rumor


class CrashWatch:
    """Registers callbacks on every survivor before the crash; records the
    first suspicion of ``victim`` heard anywhere and, per survivor, when it
    declared ``victim`` failed (``time.monotonic()``)."""

    def __init__(self, survivors: Iterable[rumor.Node], victim: str) -> None:
        self.victim = victim
        self.suspected: list[float] = []
        self.failed: dict[str, float] = {}
        self._lock = threading.Lock()
        for s in survivors:
            s.on_suspect(self._on_suspect)
            s.on_fail(lambda m, name=s.name: self._on_fail(name, m))

    def _on_suspect(self, m: rumor.Member) -> None:
        if m.name == self.victim:
            with self._lock:
                self.suspected.append(time.monotonic())

    def _on_fail(self, survivor: str, m: rumor.Member) -> None:
        if m.name == self.victim:
            with self._lock:
                self.failed.setdefault(survivor, time.monotonic())

    def snapshot(self) -> tuple[list[float], dict[str, float]]:
        """Copies of the suspicion times and the failure times by survivor."""
        with self._lock:
            return list(self.suspected), dict(self.failed)
