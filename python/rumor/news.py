"""What spreads besides membership: :class:`Rumor` (a user broadcast) and
:class:`AntiEntropy` (how members repair what gossip missed)."""

from __future__ import annotations

import dataclasses
from typing import Literal, Union

from rumor.errors import ConfigError

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

    It is another spelling of three settings: ``mode`` is
    ``Config(anti_entropy=)``, ``interval`` is ``push_pull_interval`` and
    ``peers`` is ``sync_peers``. ``interval`` and ``peers`` left ``None``
    keep the preset's; giving one of them here and its setting by keyword
    in the same call is a :class:`rumor.ConfigError` naming both.

    Raises:
        ConfigError: ``mode`` or ``peers`` is not one of the names above.
    """

    mode: Literal["push", "pull", "push_pull"] = "push_pull"
    interval: float | None = None
    peers: Literal["random", "ring"] | None = None

    def __post_init__(self) -> None:
        # Checked here, where the user wrote them, with their own names.
        if self.mode not in ("push", "pull", "push_pull"):
            raise ConfigError(f'mode must be "push", "pull" or "push_pull", got {self.mode!r}')
        if self.peers is not None and self.peers not in ("random", "ring"):
            raise ConfigError(f'peers must be "random" or "ring", got {self.peers!r}')
