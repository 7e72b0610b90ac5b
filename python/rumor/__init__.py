"""rumor: gossip-based cluster membership, failure detection and dissemination.

The protocol engine runs in Rust on a background runtime; this package is a
thin, typed face over it. Start with :class:`Node`::

    import rumor

    with rumor.Node(name="a", bind="127.0.0.1:7946") as a:
        a.on_join(lambda m: print("joined", m.name))
        a.join(["127.0.0.1:7947"])

or simulate a cluster in virtual time with :class:`Simulation`::

    sim = rumor.Simulation(nodes=100, seed=7, loss=0.05)
    sim.run(30)
    sim.kill("n17")
    sim.run_until(lambda s: s.all_know_failed("n17"), timeout=60)
"""

from __future__ import annotations

# rumor.plot imports matplotlib only when it draws.
from rumor import plot
from rumor._native import Config, __version__
from rumor.errors import (
    ArgumentError,
    ArgumentTypeError,
    BindError,
    ConfigError,
    EntropyError,
    ItemError,
    JoinError,
    KeyringError,
    MetaTooLargeError,
    NameConflictError,
    NodeClosedError,
    RumorError,
    TimeoutError,
    UsageError,
)
from rumor.events import (
    Alive,
    Event,
    EventStream,
    Failed,
    Joined,
    Left,
    Restarted,
    RumorReceived,
    Suspected,
    Updated,
)
from rumor.keyring import Keyring
from rumor.member import Accusation, Member, MemberState
from rumor.news import AntiEntropy, Rumor
from rumor.node import Node
from rumor.sim import SimNode, Simulation

__all__ = [
    "Accusation",
    "Alive",
    "AntiEntropy",
    "ArgumentError",
    "ArgumentTypeError",
    "BindError",
    "Config",
    "ConfigError",
    "EntropyError",
    "Event",
    "EventStream",
    "Failed",
    "ItemError",
    "JoinError",
    "Joined",
    "Keyring",
    "KeyringError",
    "Left",
    "Member",
    "MemberState",
    "MetaTooLargeError",
    "NameConflictError",
    "Node",
    "NodeClosedError",
    "Restarted",
    "Rumor",
    "RumorError",
    "RumorReceived",
    "SimNode",
    "Simulation",
    "Suspected",
    "TimeoutError",
    "Updated",
    "UsageError",
    "__version__",
    "plot",
]
