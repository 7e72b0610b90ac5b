"""Fixtures for the real-cluster tests; the helpers live in ``support.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import rumor
from support import LOCALHOST, Cluster, fast_config


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
