"""pytest plugin for `.ci/run`'s wheel step: the suite must exercise the
installed wheel, so stop before any test if ``import rumor`` resolves
anywhere but this interpreter's site-packages (the source tree's
``python/rumor`` included), and name the files in the run's header."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest


def _imported() -> list[Path]:
    import rumor
    import rumor._native

    return [Path(m.__file__ or "?").resolve() for m in (rumor, rumor._native)]


def pytest_sessionstart(session: pytest.Session) -> None:
    paths = sysconfig.get_paths()
    sites = {Path(paths["purelib"]).resolve(), Path(paths["platlib"]).resolve()}
    for path in _imported():
        if not sites & set(path.parents):
            raise pytest.UsageError(f"rumor imported from {path}, not from {sorted(sites)}")


def pytest_report_header() -> list[str]:
    return [f"imported: {path}" for path in _imported()]
