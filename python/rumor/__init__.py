"""rumor: gossip-based cluster membership, failure detection and dissemination.

The protocol engine runs in Rust on a background runtime; this package is a
thin, typed face over it. Start with :class:`Node`::

    import rumor

    with rumor.Node(name="a", bind="127.0.0.1:7946") as a:
        a.on_join(lambda m: print("joined", m.name))
        a.join(["127.0.0.1:7947"])
"""

from __future__ import annotations

from rumor._native import Config, __version__
from rumor.errors import (
    ConfigError,
    JoinError,
    NodeClosedError,
    RumorError,
    TimeoutError,
)
from rumor.member import Member, MemberState
from rumor.node import Node

__all__ = [
    "Config",
    "ConfigError",
    "JoinError",
    "Member",
    "MemberState",
    "Node",
    "NodeClosedError",
    "RumorError",
    "TimeoutError",
    "__version__",
]
