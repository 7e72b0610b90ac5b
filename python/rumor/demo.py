"""``rumor demo``: an in-process cluster on loopback, one crash, and how fast it is seen.

Starts ``--nodes`` nodes on 127.0.0.1 (free ports), joins them all through the
first one at once, and reports how long until every node lists every other
one alive. Then it closes one node without leaving, as a crash would, and
reports, for every survivor, when it first suspected the node and when it
declared it failed, counted from the moment of the kill. The survivors then
leave and close cleanly.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TextIO

from rumor._native import Config
from rumor.errors import RumorError
from rumor.member import Member, MemberState
from rumor.node import Node

__all__ = ["add_arguments", "demo_config", "run"]

DEADLINE = 30.0
"""Seconds any one phase may take before the demo gives up."""

POLL = 0.01


class _Say(Protocol):
    def __call__(self, text: str = "") -> None: ...


def demo_config(probe_interval: float = 0.5) -> Config:
    """``Config.local()`` with a shorter probe interval, so the demo takes seconds."""
    return Config.local(
        probe_interval=probe_interval,
        probe_timeout=min(0.2, probe_interval / 2),
        gossip_interval=min(0.1, probe_interval / 5),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the demo's options to ``parser``."""
    parser.add_argument(
        "--nodes",
        type=int,
        default=8,
        metavar="N",
        help="cluster size, at least 3 (default: %(default)s)",
    )
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="failure detector period (default: %(default)s)",
    )


class _Watch:
    """When each survivor first suspected, and declared dead, one member.

    Filled from the nodes' callback threads; read from the main thread.
    """

    def __init__(self) -> None:
        self.victim: str | None = None
        self.killed_at = 0.0
        self.suspected: dict[str, float] = {}
        self.failed: dict[str, float] = {}
        self._lock = threading.Lock()

    def attach(self, node: Node) -> None:
        observer = node.name

        def suspected(member: Member) -> None:
            self._note(self.suspected, observer, member)

        def failed(member: Member) -> None:
            self._note(self.failed, observer, member)

        node.on_suspect(suspected)
        node.on_fail(failed)

    def _note(self, table: dict[str, float], observer: str, member: Member) -> None:
        now = time.monotonic()
        with self._lock:
            if member.name == self.victim and observer not in table:
                table[observer] = now - self.killed_at

    def kill(self, node: Node) -> None:
        with self._lock:
            self.victim = node.name
            self.killed_at = time.monotonic()
        node.close()

    def failed_count(self) -> int:
        with self._lock:
            return len(self.failed)


def _wait(predicate: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _describe(config: Config, nodes: int) -> list[str]:
    # memberlist's rule: suspicion_mult * max(1, log10 n) * probe_interval.
    suspicion = config.suspicion_mult * max(1.0, math.log10(nodes)) * config.probe_interval
    return [
        f"probe_interval={config.probe_interval:g}s probe_timeout={config.probe_timeout:g}s "
        f"gossip_interval={config.gossip_interval:g}s gossip_fanout={config.gossip_fanout}",
        f"suspicion_mult={config.suspicion_mult} (min suspicion timeout {suspicion:g}s) "
        f"indirect_checks={config.indirect_checks} retransmit_mult={config.retransmit_mult}",
    ]


def run(nodes: int = 8, probe_interval: float = 0.5, out: TextIO | None = None) -> int:
    """Runs the demo, printing to ``out`` (default: standard output); returns an exit status."""
    out = out if out is not None else sys.stdout
    if nodes < 3:
        print("rumor demo: --nodes must be at least 3", file=out)
        return 2
    config = demo_config(probe_interval)

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    say(f"rumor demo: {nodes} nodes on 127.0.0.1, Config.local() with")
    for line in _describe(config, nodes):
        say(f"  {line}")

    watch = _Watch()
    cluster: list[Node] = []
    try:
        for i in range(nodes):
            node = Node(name=f"n{i}", bind="127.0.0.1:0", config=config)
            watch.attach(node)
            cluster.append(node)
        return _scenario(cluster, watch, say)
    except RumorError as exc:
        say(f"rumor demo failed: {exc}")
        return 1
    finally:
        for node in cluster:
            node.close()


def _everyone_alive(cluster: Sequence[Node]) -> bool:
    want = len(cluster)
    return all(len(node.members(MemberState.ALIVE)) == want for node in cluster)


def _scenario(cluster: list[Node], watch: _Watch, say: _Say) -> int:
    seed = cluster[0]
    width = max(len(node.name) for node in cluster)

    # -- join -------------------------------------------------------------
    started = time.monotonic()
    for node in cluster[1:]:
        node.join(seed.addr)
    if not _wait(lambda: _everyone_alive(cluster)):
        say(f"not converged after {DEADLINE:.0f} s")
        return 1
    took = _ms(time.monotonic() - started)
    say(f"\njoined: all {len(cluster)} nodes see {len(cluster)} alive after {took}")

    # -- crash ------------------------------------------------------------
    victim = cluster[len(cluster) // 2]
    survivors = [node for node in cluster if node is not victim]
    watch.kill(victim)
    say(f"\nkilled {victim.name} ({victim.addr}): closed without leaving")
    complete = _wait(lambda: watch.failed_count() == len(survivors))
    say(f"\n  {'node':<{width}}  {'suspected':>10}  {'failed':>10}")
    for node in survivors:
        suspected = watch.suspected.get(node.name)
        failed = watch.failed.get(node.name)
        say(f"  {node.name:<{width}}  {_ms(suspected):>10}  {_ms(failed):>10}")
    import statistics  # here: with fractions and decimal, 0.6 MiB of every agent's memory

    failed_times = sorted(watch.failed.values())
    suspected_times = sorted(watch.suspected.values())
    if suspected_times:
        say(
            f"\nsuspected: median {_ms(statistics.median(suspected_times))}, "
            f"max {_ms(suspected_times[-1])} ({len(suspected_times)} of {len(survivors)} survivors)"
        )
    if failed_times:
        say(
            f"failed:    median {_ms(statistics.median(failed_times))}, "
            f"max {_ms(failed_times[-1])} ({len(failed_times)} of {len(survivors)} survivors)"
        )
    if not complete:
        missing = sorted(n.name for n in survivors if n.name not in watch.failed)
        say(f"\n{victim.name} NOT detected by {', '.join(missing)} within {DEADLINE:.0f} s")
        return 1
    say(f"\n{victim.name} declared failed by all {len(survivors)} survivors")

    # -- leave --------------------------------------------------------------
    started = time.monotonic()
    errors: list[str] = []

    def leave(node: Node) -> None:
        try:
            node.leave(timeout=5.0)
        except RumorError as exc:
            errors.append(f"{node.name}: {exc}")

    threads = [threading.Thread(target=leave, args=(node,)) for node in survivors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for node in survivors:
        node.close()
    say(f"\nleft and closed the {len(survivors)} survivors in {_ms(time.monotonic() - started)}")
    for error in errors:
        say(f"  leave: {error}")
    return 0
