"""Fixtures for the real-cluster tests; the helpers live in ``support.py``."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import rumor
from agents import Agent
from support import LOCALHOST, Cluster, Unraisable, fast_config


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> Unraisable:
    """Captures ``sys.unraisablehook`` for the test. Ask for it before any
    fixture that starts nodes (``cluster``, ``node``): fixtures are undone in
    reverse, so the hook is restored only once no dispatcher can call it."""
    captured = Unraisable()
    monkeypatch.setattr(sys, "unraisablehook", captured.hook)
    return captured


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A :class:`Cluster` whose nodes are all closed when the test ends."""
    c = Cluster()
    try:
        yield c
    finally:
        c.close_all()


@pytest.fixture
def node() -> Iterator[rumor.Node]:
    """One node, not joined to anything, closed when the test ends."""
    n = rumor.Node(name="solo", bind=f"{LOCALHOST}:0", config=fast_config())
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    """Agent processes a test starts (append each); killed when it ends,
    only those, by their handles."""
    started: list[Agent] = []
    yield started
    for a in started:
        a.kill()
