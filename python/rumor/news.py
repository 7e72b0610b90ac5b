"""What spreads besides membership: :class:`Rumor` (a user broadcast) and
:class:`AntiEntropy` (how members repair what gossip missed)."""

from __future__ import annotations

import dataclasses
from typing import Literal, Union

__all__ = ["AntiEntropy", "Rumor", "Value"]

# typing.Union, not "bytes | str": this line runs on Python 3.9 too.
Value = Union[bytes, str]
"""A value of the replicated state: kept as given, bytes or text."""


@dataclasses.dataclass(frozen=True)
class Rumor:
    """A broadcast as delivered to ``on_rumor`` callbacks.

    Each member that is up while it spreads, or that syncs with one that
    still holds it (for ``state_gc_grace``, 10 minutes on the presets: a
    member that joins soon after a broadcast gets it too), delivers it once.
    """

    origin: str
    """The member that broadcast it."""
    seq: int
    """Its sequence number: unique for one life of ``origin`` (it starts over
    when the origin restarts), increasing but not consecutive."""
    payload: bytes
    """What was broadcast."""


@dataclasses.dataclass(frozen=True)
class AntiEntropy:
    """Anti-entropy settings, for ``Config(anti_entropy=AntiEntropy(...))``.

    Every ``interval`` seconds each member syncs with one peer: ``push``
    sends the peer what it lacks, ``pull`` fetches what we lack, ``push_pull``
    both (Demers et al. 1987). ``peers="ring"`` syncs each member with its
    successor by name, so news reaches all n members within n - 1 intervals
    with no randomness; ``"random"`` picks a random live member. The
    exchange is digest-then-delta (Scuttlebutt), and repairs membership too.
    """

    mode: Literal["push", "pull", "push_pull"] = "push_pull"
    interval: float = 30.0
    peers: Literal["random", "ring"] = "random"
