"""Members of the cluster as a node sees them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Accusation", "Member", "MemberState"]


class MemberState(str, enum.Enum):
    """Where a member stands in the local node's view."""

    ALIVE = "alive"
    """Answering probes."""
    SUSPECT = "suspect"
    """Missed a probe; declared dead unless it refutes in time."""
    DEAD = "dead"
    """Declared failed."""
    LEFT = "left"
    """Left gracefully; never reported as a failure."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Member:
    """One member: its identity ``(name, addr, incarnation)``, state and metadata.

    A snapshot: it does not change when the member's state changes later.
    """

    name: str
    """Unique name in the cluster."""
    addr: str
    """``host:port`` of its gossip socket."""
    state: MemberState
    """State in the local view when the snapshot was taken."""
    incarnation: int
    """Logical counter the member raises to refute suspicion or announce news."""
    meta: bytes = b""
    """Small opaque metadata the member set for itself."""
    failure_reason: str | None = None
    """Why the member was declared dead, on the member an ``on_fail``
    callback (or a :class:`rumor.Failed` event) gets: ``"closed_port"`` (its
    port was confirmed closed: the process is gone while its host answers),
    ``"suspicion_timeout"`` (a suspicion of it ran out unrefuted) or
    ``"quorum"`` (a majority of members reported it failing, under the quorum
    detector); ``None`` when the death came without a reason (from a peer of
    an older version, or a full sync) and on every other member."""


@dataclass(frozen=True)
class Accusation:
    """What ``on_refute`` callbacks get: other members held this node
    ``state`` and it has refuted by announcing ``incarnation``. ``state`` is
    suspect, dead or left; or alive, when the claim was about an earlier life
    of this node or another process at another address using its name."""

    state: MemberState
    """What this node was accused of."""
    incarnation: int
    """The incarnation it announced to refute it."""
