"""Helpers for the real-cluster tests: nodes on 127.0.0.1, port 0.

Nothing here sleeps to make a point: every wait is :func:`wait_until`, which
polls a condition and, at its deadline, fails with what is still missing.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence

import pytest
import rumor

POLL = 0.02
"""Seconds between two checks of a condition."""

DEADLINE = 30.0
"""Seconds any cluster-wide condition gets: generous, the machine is small and noisy."""

LOCALHOST = "127.0.0.1"

DROP_KEYS = (
    "dropped_total",
    "dropped_malformed",
    "dropped_truncated",
    "dropped_oversized",
    "dropped_bad_magic",
    "dropped_unknown_version",
    "dropped_out_of_limits",
    "dropped_unauthenticated",
    "dropped_unencrypted",
)
"""The counters of ``stats()`` for datagrams dropped, by reason."""


class Unraisable:
    """What ``sys.unraisablehook`` received, in order, thread-safe: callbacks
    that raise are reported there, from a node's dispatcher thread. Use the
    ``unraisable`` fixture, which installs :meth:`hook` for one test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: list[sys.UnraisableHookArgs] = []

    def hook(self, args: sys.UnraisableHookArgs) -> None:
        with self._lock:
            self._reports.append(args)

    @property
    def reports(self) -> list[sys.UnraisableHookArgs]:
        """Every report so far."""
        with self._lock:
            return list(self._reports)

    def messages(self) -> list[str]:
        """``str()`` of every exception reported so far."""
        return [str(args.exc_value) for args in self.reports]


def fast_config() -> rumor.Config:
    """``local`` with short periods, so a failure is detected in about a second.

    Suspicion timeout = 3 * max(1, log10 n) * 0.2 s (0.6 s for up to 10 members).
    """
    return rumor.Config.local(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05)


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = DEADLINE,
    message: str | Callable[[], str] = "condition not met",
) -> None:
    """Polls ``predicate`` every 20 ms until it holds or ``timeout`` passes.

    At the deadline the test fails with ``message`` (called then if it is a
    function, so it can list what is still missing).
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            if predicate():
                return
            text = message() if callable(message) else message
            pytest.fail(f"after {timeout:.1f} s: {text}", pytrace=False)
        time.sleep(POLL)


def view_gaps(
    observers: Sequence[rumor.Node],
    expected: dict[str, str],
) -> dict[str, list[str]]:
    """For each observer, the members whose state differs from ``expected``.

    ``expected`` maps member name to state ("alive", "dead", ...). The result
    maps observer name to entries like ``"n3=suspect"`` or ``"n4=missing"``;
    observers that see everything as expected are left out.
    """
    gaps: dict[str, list[str]] = {}
    for node in observers:
        seen = {m.name: m.state.value for m in node.members()}
        wrong = [
            f"{name}={seen.get(name, 'missing')}"
            for name, state in sorted(expected.items())
            if seen.get(name) != state
        ]
        if wrong:
            gaps[node.name] = wrong
    return gaps


def wait_for_views(
    observers: Sequence[rumor.Node],
    expected: dict[str, str],
    timeout: float = DEADLINE,
) -> None:
    """Waits until every observer sees every member of ``expected`` in its state."""

    def describe() -> str:
        gaps = view_gaps(observers, expected)
        lines = [f"  {observer} sees {', '.join(wrong)}" for observer, wrong in gaps.items()]
        return f"{len(gaps)} of {len(observers)} nodes disagree with {expected}:\n" + "\n".join(
            lines
        )

    wait_until(lambda: not view_gaps(observers, expected), timeout, describe)


def all_alive(nodes: Sequence[rumor.Node]) -> dict[str, str]:
    """The expectation "every one of ``nodes`` is alive"."""
    return {node.name: "alive" for node in nodes}


def silent_udp_port() -> socket.socket:
    """A bound UDP socket on 127.0.0.1 that never answers: a seed that is not there."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCALHOST, 0))
    return sock


class EventLog:
    """Every membership event one node reported, in order, thread-safe.

    Attach it before the node joins so no event is missed.
    """

    KINDS = ("join", "leave", "fail", "suspect", "alive")

    def __init__(self, node: rumor.Node) -> None:
        self.node = node
        self._lock = threading.Lock()
        self._events: list[tuple[str, rumor.Member, float]] = []
        node.on_join(self._recorder("join"))
        node.on_leave(self._recorder("leave"))
        node.on_fail(self._recorder("fail"))
        node.on_suspect(self._recorder("suspect"))
        node.on_alive(self._recorder("alive"))

    def _recorder(self, kind: str) -> Callable[[rumor.Member], None]:
        def record(member: rumor.Member) -> None:
            with self._lock:
                self._events.append((kind, member, time.monotonic()))

        return record

    def events(self, kind: str | None = None, name: str | None = None) -> list[rumor.Member]:
        """Members of the recorded events, filtered by kind and member name."""
        with self._lock:
            return [
                m
                for k, m, _ in self._events
                if (kind is None or k == kind) and (name is None or m.name == name)
            ]

    def count(self, kind: str, name: str) -> int:
        """How many ``kind`` events about ``name`` were recorded."""
        return len(self.events(kind, name))

    def kinds_about(self, name: str) -> list[str]:
        """The kinds of every event about ``name``, in order."""
        with self._lock:
            return [k for k, m, _ in self._events if m.name == name]


class Cluster:
    """Starts nodes on 127.0.0.1 port 0 and closes every one of them at the end."""

    def __init__(self) -> None:
        self.nodes: list[rumor.Node] = []
        self.logs: dict[str, EventLog] = {}

    def start(
        self,
        name: str,
        config: rumor.Config | None = None,
        *,
        meta: bytes = b"",
    ) -> rumor.Node:
        """Starts one node (not joined) with an :class:`EventLog` attached."""
        node = rumor.Node(
            name=name,
            bind=f"{LOCALHOST}:0",
            config=config if config is not None else fast_config(),
            meta=meta,
        )
        self.nodes.append(node)
        self.logs[name] = EventLog(node)
        return node

    def start_joined(
        self, n: int, prefix: str = "n", config: rumor.Config | None = None
    ) -> list[rumor.Node]:
        """Starts ``n`` nodes and joins all of them through the first, then
        waits until every one sees all ``n`` alive."""
        width = len(str(n - 1))
        nodes = [self.start(f"{prefix}{i:0{width}d}", config) for i in range(n)]
        seed = nodes[0].addr
        for node in nodes[1:]:
            node.join(seed, timeout=10.0)
        wait_for_views(nodes, all_alive(nodes))
        return nodes

    def live(self) -> list[rumor.Node]:
        """Nodes started and not closed."""
        return [node for node in self.nodes if not node.closed]

    def barrier(self, observers: Sequence[rumor.Node], name: str = "barrier") -> rumor.Node:
        """Joins a fresh node and waits until every observer has *reported* its
        join through ``on_join``.

        Each node delivers its events in order, one at a time, so
        once this returns, every event an observer produced before it saw the
        newcomer has reached the callbacks.
        """
        newcomer = self.start(name)
        newcomer.join(observers[0].addr, timeout=10.0)

        def missing() -> list[str]:
            return [o.name for o in observers if self.logs[o.name].count("join", name) == 0]

        wait_until(
            lambda: not missing(),
            message=lambda: f"on_join({name}) not reported by {missing()}",
        )
        return newcomer

    def close_all(self) -> None:
        for node in reversed(self.nodes):
            node.close()


def wait_probe_rounds(observers: Sequence[rumor.Node], probes: int) -> None:
    """Waits until every observer has started ``probes`` more probes.

    A quiet period measured in protocol work rather than wall-clock time:
    whatever a wrong decision needs (a probe of the wrong member, then its
    suspicion timeout) has had the chance to happen once this returns.
    """
    start = {node.name: node.stats()["probes"] for node in observers}

    def behind() -> dict[str, int]:
        return {
            node.name: node.stats()["probes"] - start[node.name]
            for node in observers
            if node.stats()["probes"] - start[node.name] < probes
        }

    wait_until(
        lambda: not behind(),
        message=lambda: f"fewer than {probes} new probes (name: probes so far): {behind()}",
    )


def ping_datagram(target: str, seq: int) -> bytes:
    """A well-formed Ping for ``target``: what a replayed capture looks like."""
    name = target.encode()
    varint = bytearray()
    while True:
        byte, seq = seq & 0x7F, seq >> 7
        varint.append(byte | (0x80 if seq else 0))
        if not seq:
            break
    return b"Rm\x01\x00\x01\x00" + b"\x02" + bytes(varint) + bytes([len(name)]) + name


def flood(addr: str, target: str, seconds: float, seed: int = 7) -> int:
    """Sends ``addr`` a stream of hostile datagrams for ``seconds``, one kind
    after another: random bytes, truncated headers, 65,507-byte garbage, and
    the same valid Ping to ``target`` replayed. Returns how many it sent."""
    import random

    rng = random.Random(seed)
    junk = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1500))) for _ in range(64)]
    kinds: list[bytes] = [
        *junk,
        b"",
        b"Rm",
        b"Rm\x01\x00\x01",
        b"Rm\x01\x00" + bytes(65_503),
        ping_datagram(target, 424242),
    ]
    host, port = addr.rsplit(":", 1)
    sent = 0
    deadline = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCALHOST, 0))
        while time.monotonic() < deadline:
            for datagram in kinds:
                try:
                    sock.sendto(datagram, (host, int(port)))
                    sent += 1
                except OSError:
                    pass  # a full socket buffer: the kernel drops it, as the wire would
    return sent
