"""Type stubs of the compiled extension ``rumor._native`` (kept by hand)."""

from collections.abc import Awaitable
from typing import final

__version__: str

@final
class Config:
    """Protocol settings, validated when built.

    ``Config(**fields)`` starts from the ``lan`` preset; ``Config.lan()``,
    ``Config.local()`` and ``Config.wan()`` take the same keyword overrides.
    Durations are in seconds. A value out of range raises
    :class:`rumor.ConfigError` (a ``ValueError``) naming the field and range.
    """

    def __init__(
        self,
        *,
        probe_interval: float = ...,
        probe_timeout: float = ...,
        gossip_interval: float = ...,
        gossip_fanout: int = ...,
        suspicion_mult: int = ...,
        suspicion_max_timeout_mult: int = ...,
        retransmit_mult: int = ...,
        indirect_checks: int = ...,
        push_pull_interval: float = ...,
        gossip_to_the_dead_time: float = ...,
        reconnect_interval: float = ...,
        max_packet_size: int = ...,
        max_meta_size: int = ...,
    ) -> None: ...
    @staticmethod
    def lan(
        *,
        probe_interval: float = ...,
        probe_timeout: float = ...,
        gossip_interval: float = ...,
        gossip_fanout: int = ...,
        suspicion_mult: int = ...,
        suspicion_max_timeout_mult: int = ...,
        retransmit_mult: int = ...,
        indirect_checks: int = ...,
        push_pull_interval: float = ...,
        gossip_to_the_dead_time: float = ...,
        reconnect_interval: float = ...,
        max_packet_size: int = ...,
        max_meta_size: int = ...,
    ) -> Config:
        """memberlist's LAN defaults: a data-centre network."""
    @staticmethod
    def local(
        *,
        probe_interval: float = ...,
        probe_timeout: float = ...,
        gossip_interval: float = ...,
        gossip_fanout: int = ...,
        suspicion_mult: int = ...,
        suspicion_max_timeout_mult: int = ...,
        retransmit_mult: int = ...,
        indirect_checks: int = ...,
        push_pull_interval: float = ...,
        gossip_to_the_dead_time: float = ...,
        reconnect_interval: float = ...,
        max_packet_size: int = ...,
        max_meta_size: int = ...,
    ) -> Config:
        """memberlist's local defaults: one host or a fast local network."""
    @staticmethod
    def wan(
        *,
        probe_interval: float = ...,
        probe_timeout: float = ...,
        gossip_interval: float = ...,
        gossip_fanout: int = ...,
        suspicion_mult: int = ...,
        suspicion_max_timeout_mult: int = ...,
        retransmit_mult: int = ...,
        indirect_checks: int = ...,
        push_pull_interval: float = ...,
        gossip_to_the_dead_time: float = ...,
        reconnect_interval: float = ...,
        max_packet_size: int = ...,
        max_meta_size: int = ...,
    ) -> Config:
        """memberlist's WAN defaults: members across the internet."""
    @property
    def probe_interval(self) -> float:
        """Seconds between two probes of the failure detector."""
    @property
    def probe_timeout(self) -> float:
        """Seconds a direct ping waits before indirect probes start."""
    @property
    def gossip_interval(self) -> float:
        """Seconds between two gossip rounds."""
    @property
    def gossip_fanout(self) -> int:
        """Members each gossip round goes to."""
    @property
    def suspicion_mult(self) -> int:
        """Suspicion timeout = suspicion_mult * max(1, log10 n) * probe_interval."""
    @property
    def suspicion_max_timeout_mult(self) -> int:
        """Upper bound of the suspicion timeout, as a multiple of the minimum."""
    @property
    def retransmit_mult(self) -> int:
        """Each update is gossiped retransmit_mult * ceil(log10(n + 1)) times."""
    @property
    def indirect_checks(self) -> int:
        """Members asked to probe a target that missed its direct ack."""
    @property
    def push_pull_interval(self) -> float:
        """Seconds between full anti-entropy syncs (0 disables them)."""
    @property
    def gossip_to_the_dead_time(self) -> float:
        """Seconds dead and departed members are still gossiped about."""
    @property
    def reconnect_interval(self) -> float:
        """Seconds between attempts to reach a dead member (0 disables them)."""
    @property
    def max_packet_size(self) -> int:
        """Largest datagram sent, in bytes."""
    @property
    def max_meta_size(self) -> int:
        """Largest member metadata, in bytes."""

MemberTuple = tuple[str, str, str, int, bytes]

@final
class NativeNode:
    """The Rust side of :class:`rumor.Node`; use that class instead."""

    def __init__(
        self, name: str | None, bind: str, config: Config, meta: bytes, seed: int | None
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def addr(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def join(self, seeds: list[str], timeout: float) -> int: ...
    def join_async(self, seeds: list[str], timeout: float) -> Awaitable[int]: ...
    def leave(self, timeout: float) -> None: ...
    def leave_async(self, timeout: float) -> Awaitable[None]: ...
    def members(self) -> list[MemberTuple]: ...
    def set_meta(self, meta: bytes) -> None: ...
    def stats(self) -> dict[str, int]: ...
    def next_event(self, timeout: float) -> tuple[str, MemberTuple] | None:
        """The next membership event, waiting up to ``timeout`` seconds."""
    def close(self) -> None: ...

def write_unraisable(exc: BaseException, obj: object) -> None:
    """Reports ``exc`` through ``sys.unraisablehook``, naming ``obj``."""
