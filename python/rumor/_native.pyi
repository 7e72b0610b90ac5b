"""Type stubs of the compiled extension ``rumor._native`` (kept by hand)."""

from collections.abc import Awaitable, Sequence
from typing import Protocol, TypedDict, final

from typing_extensions import Unpack

__all__ = [
    "Config",
    "NativeHub",
    "NativeNode",
    "NativeSim",
    "__version__",
    "seconds",
    "write_unraisable",
]

__version__: str

class ConfigFields(TypedDict, total=False):
    """The keyword overrides ``Config(...)`` and its presets take."""

    probe_interval: float
    probe_timeout: float
    gossip_interval: float
    gossip_fanout: int
    suspicion_mult: int
    suspicion_max_timeout_mult: int
    retransmit_mult: int
    indirect_checks: int
    push_pull_interval: float
    gossip_to_the_dead_time: float
    reconnect_interval: float
    rejoin_interval: float
    max_packet_size: int
    max_meta_size: int
    anti_entropy: str | AntiEntropyLike
    sync_peers: str
    stop_policy: str
    eager_push: bool
    state_gc_grace: float
    sync_max_datagrams: int
    max_stream_size: int
    lifeguard: bool
    closed_port_evidence: bool
    awareness_max_multiplier: int
    reap_timeout: float
    push_pull_scale: bool
    failure_detector: str
    node_timeout: float
    keys: Sequence[bytes]
    label: str

@final
class Config:
    """Protocol settings, validated when built.

    ``Config(**fields)`` starts from the ``lan`` preset; ``Config.lan()``,
    ``Config.local()`` and ``Config.wan()`` take the same keyword overrides.
    Durations are in seconds. A value out of range raises
    :class:`rumor.ConfigError` (a ``ValueError``) naming the field and range.
    """

    def __new__(cls, **fields: Unpack[ConfigFields]) -> Config: ...
    @staticmethod
    def lan(**fields: Unpack[ConfigFields]) -> Config:
        """memberlist's LAN defaults: a data-centre network."""
    @staticmethod
    def local(**fields: Unpack[ConfigFields]) -> Config:
        """memberlist's local defaults: one host or a fast local network."""
    @staticmethod
    def wan(**fields: Unpack[ConfigFields]) -> Config:
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
    def rejoin_interval(self) -> float:
        """Seconds a member that had peers may see none alive before it joins
        again through its seeds, names resolved anew (0 disables it)."""
    @property
    def max_packet_size(self) -> int:
        """Largest datagram sent, in bytes."""
    @property
    def max_meta_size(self) -> int:
        """Largest member metadata, in bytes."""
    @property
    def anti_entropy(self) -> str:
        """Anti-entropy mode: ``"push"``, ``"pull"`` or ``"push_pull"``."""
    @property
    def sync_peers(self) -> str:
        """Whom a member syncs with: ``"random"`` or ``"ring"``."""
    @property
    def stop_policy(self) -> str:
        """When rumor mongering stops: ``"retransmit_limit"``,
        ``"counter(k)"`` or ``"coin(k)"``."""
    @property
    def eager_push(self) -> bool:
        """Whether news is pushed the moment it arrives, not only each round."""
    @property
    def state_gc_grace(self) -> float:
        """Seconds tombstones and delivered rumors are kept for anti-entropy."""
    @property
    def push_pull_scale(self) -> bool:
        """Whether the sync period stretches as the cluster grows (memberlist)."""
    @property
    def reap_timeout(self) -> float:
        """Seconds a dead or departed member stays listed before it is removed."""
    @property
    def closed_port_evidence(self) -> bool:
        """Whether a probe refused by a closed port (checked once) declares the member dead."""
    @property
    def lifeguard(self) -> bool:
        """Whether Lifeguard is on (local health, shrinking suspicions, buddy system)."""
    @property
    def awareness_max_multiplier(self) -> int:
        """Lifeguard's cap on the local health multiplier."""
    @property
    def failure_detector(self) -> str:
        """The failure detector: ``"swim"`` (with Lifeguard unless it is off)
        or ``"quorum"`` (Redis Cluster's: a majority must find a member
        unreachable for ``node_timeout``)."""
    @property
    def node_timeout(self) -> float:
        """Seconds without an answer before the quorum detector marks a
        member failing here (Redis's ``cluster-node-timeout``)."""
    @property
    def encrypted(self) -> bool:
        """Whether the config has encryption keys."""
    @property
    def keys(self) -> list[bytes]:
        """The encryption keys, the primary first (empty: no encryption).
        ``repr`` only counts them, so a logged config does not leak them."""
    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Rebuilt as ``Config(**fields)``: copies and pickles are equal."""
    @property
    def label(self) -> str:
        """The cluster label bound into every sealed datagram."""
    @property
    def max_stream_size(self) -> int:
        """Largest broadcast payload or value sent over a TCP stream, exactly
        (its frame carries up to 1 KiB more for the framing); 0: no streams."""
    @property
    def sync_max_datagrams(self) -> int:
        """Datagrams one anti-entropy answer may take."""

class AntiEntropyLike(Protocol):
    """What ``Config(anti_entropy=...)`` accepts besides a mode name."""

    @property
    def mode(self) -> str: ...
    @property
    def interval(self) -> float | None: ...
    @property
    def peers(self) -> str | None: ...

Value = bytes | str
"""A value of the replicated state."""

MemberTuple = tuple[str, str, str, int, bytes]
"""``(name, addr, state, incarnation, meta)`` of one member."""

FailTuple = tuple[str, str, str, int, bytes, str | None]
"""A ``fail`` event's member tuple with its failure reason appended."""

EventTuple = tuple[str, str, int, MemberTuple | FailTuple | bytes | tuple[str, Value | None] | str]
"""``(kind, subject, number, content)`` of one event (see
``rumor._base.NativeEvent``)."""

ProbeRttTuple = tuple[list[tuple[float, int]], int, int]
"""``(buckets, count, sum in µs)`` (see ``rumor.metrics.ProbeRtt``)."""

@final
class NativeHub:
    """The ready queue the dispatcher threads of all nodes share."""

    def __new__(cls) -> NativeHub: ...
    def next(self, timeout: float | None = None) -> int | None:
        """The key of the next node with events; ``None`` on timeout or
        after :meth:`shutdown`."""
    def watch(self, threshold: float, timeout: float) -> bool:
        """Whether a node waited ``threshold`` seconds with no consumer free."""
    def poke(self) -> None: ...
    def shutdown(self) -> None: ...
    def ready(self) -> int: ...

@final
class NativeNode:
    """The Rust side of :class:`rumor.Node`; use that class instead."""

    def __new__(
        cls,
        name: str | None,
        bind: str,
        config: Config,
        meta: bytes,
        seed: int | None,
        advertise: str | None = None,
    ) -> NativeNode: ...
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
    def member(self, name: str) -> MemberTuple | None: ...
    def probe_rtt(self) -> ProbeRttTuple:
        """The probe round-trip histogram (see ``ProbeRtt``)."""
    def keys(self) -> list[bytes]: ...
    def add_key(self, key: bytes) -> None: ...
    def use_key(self, key: bytes) -> None: ...
    def remove_key(self, key: bytes) -> None: ...
    def stats(self) -> dict[str, int]: ...
    def trouble(self) -> int:
        """Drops, send errors, lost events and refused streams, summed."""
    def next_event(self, timeout: float) -> EventTuple | None:
        """The next event, waiting up to ``timeout`` seconds."""
    def attach(self, hub: NativeHub, key: int) -> None:
        """Announces this node's events on ``hub`` under ``key``."""
    def take_events(self, max: int) -> list[EventTuple]:
        """Up to ``max`` queued events, without waiting."""
    def release(self) -> int:
        """Hands the node back to its hub after a batch: 0 no events left,
        1 queued again, 2 stopped with every event taken."""
    def broadcast(self, payload: bytes) -> int: ...
    def set(self, key: str, value: Value) -> int: ...
    def delete(self, key: str) -> int: ...
    def get(self, member: str, key: str) -> Value | None: ...
    def key_values(self, member: str) -> dict[str, Value]:
        """``member``'s key-value map as this node knows it."""
    def max_item_len(self, key: str | None = None) -> int: ...
    def close(self) -> None: ...

RecordTuple = tuple[float, str, str, str, int]
"""``(time, node, kind, subject, incarnation)`` of one event-log record."""

WatchedTuple = tuple[float, str, str, str, int, bytes | tuple[str, Value | None] | str | None]
"""A :data:`RecordTuple` plus what a rumor, state-change, refute or fail
record said (a fail record: its reason, when known)."""

IntervalTuple = tuple[float, int, int, int, int, int]
"""``(start, datagrams_sent, bytes_sent, datagrams_delivered,
datagrams_dropped, records)`` of one interval."""

@final
class NativeSim:
    """The Rust side of :class:`rumor.Simulation`; use that class instead.

    Nodes are named ``n0`` … ``n{N-1}``; an unknown name, a negative number
    of seconds or a probability outside [0, 1] raises
    ``rumor.ArgumentError`` (a ``ValueError``) naming the argument and the
    allowed range.
    """

    def __new__(cls, config: Config, nodes: int, seed: int, joined: bool = False) -> NativeSim: ...
    @property
    def now(self) -> float:
        """Current virtual time, in seconds."""
    def __len__(self) -> int: ...
    def names(self) -> list[str]:
        """Every node's name, in index order."""
    def add_node(self) -> str: ...
    def set_interval(self, interval: float) -> None: ...
    def join_all(self, seed: str) -> None: ...
    def join(self, node: str, seeds: list[str], timeout: float = ...) -> None: ...
    def leave(self, node: str) -> None: ...
    def set_meta(self, node: str, meta: bytes) -> None: ...
    def broadcast(self, node: str, payload: bytes) -> int | None: ...
    def set(self, node: str, key: str, value: Value) -> None: ...
    def delete(self, node: str, key: str) -> None: ...
    def get(self, observer: str, member: str, key: str) -> Value | None: ...
    def key_values(self, observer: str, member: str) -> dict[str, Value]:
        """``member``'s key-value map as ``observer`` knows it."""
    def kill(self, node: str) -> None: ...
    def restart(self, node: str) -> None: ...
    def pause(self, node: str, seconds: float) -> None: ...
    def stall(self, node: str, seconds: float) -> None: ...
    def is_stalled(self, node: str) -> bool: ...
    def set_receive_buffer(self, size: int) -> None: ...
    def partition(self, groups: list[list[str]], one_way: bool) -> None: ...
    def heal(self) -> None: ...
    def set_loss(self, loss: float, src: str | None = None, dst: str | None = None) -> None: ...
    def set_duplicate(self, p: float, src: str | None = None, dst: str | None = None) -> None: ...
    def set_reorder(self, p: float, src: str | None = None, dst: str | None = None) -> None: ...
    def set_latency_fixed(
        self, latency: float, src: str | None = None, dst: str | None = None
    ) -> None: ...
    def set_latency_uniform(
        self, low: float, high: float, src: str | None = None, dst: str | None = None
    ) -> None: ...
    def set_latency_normal(
        self,
        mean: float,
        std: float,
        floor: float,
        src: str | None = None,
        dst: str | None = None,
    ) -> None: ...
    def watch(self, node: str, kind: str, on: bool) -> None:
        """Starts or stops (``on``) stopping runs at ``kind`` records by ``node``."""
    def advance(self, until: float, budget: float) -> tuple[bool, list[WatchedTuple]]:
        """Runs toward virtual time ``until`` for at most ``budget`` wall
        seconds, the GIL released. Returns whether ``until`` was reached and
        the watched records of the step it stopped after, each with what a
        rumor (its payload) or a state change (``(key, value)``) said."""
    def records(
        self,
        start: int = 0,
        node: str | None = None,
        kind: str | None = None,
        subject: str | None = None,
    ) -> list[RecordTuple]:
        """Log records from index ``start``, filtered by the names given."""
    def intervals(self) -> list[IntervalTuple]: ...
    def stats(self) -> dict[str, int]:
        """Totals of the simulator's counters over every node."""
    def node_stats(self, node: str) -> dict[str, int]:
        """``rumor.Node.stats()`` keys for one node, plus ``sim_*`` counters."""
    def probe_rtt(self, node: str) -> ProbeRttTuple:
        """The probe round-trip histogram of ``node``, over every life of it."""
    def addr(self, node: str) -> str: ...
    def is_running(self, node: str) -> bool: ...
    def is_paused(self, node: str) -> bool: ...
    def is_down(self, node: str) -> bool: ...
    def members(self, node: str) -> list[MemberTuple]: ...
    def member(self, observer: str, subject: str) -> MemberTuple | None: ...
    def state(self, observer: str, subject: str) -> str | None: ...
    def converged(self) -> bool: ...
    def all_see(self, subject: str, state: str) -> bool: ...
    def count_seeing(self, subject: str, state: str) -> int: ...

def write_unraisable(exc: BaseException, obj: object) -> None:
    """Reports ``exc`` through ``sys.unraisablehook``, naming ``obj``."""

def seconds(field: str, value: float) -> float:
    """Checks a number of seconds for the Python side: the same rule and
    message as every duration the compiled core takes. Returns it."""
