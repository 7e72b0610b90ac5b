"""How callbacks of live nodes run: in order per node, one at a time, on a
few dispatcher threads shared by every node of the process; one node's
blocked callback does not hold up the others'."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

import pytest
import rumor
import rumor.node
from support import LOCALHOST, Cluster, fast_config, wait_until


def test_many_nodes_cost_a_few_threads_not_one_each(cluster: Cluster) -> None:
    """Forty idle nodes add at most a few threads to the process: the
    dispatchers are shared (a thread per node made 1,000 nodes cost 1,000
    threads, each waking twice a second)."""
    cluster.start("first")  # the pool and the runtime exist from here
    before = threading.active_count()
    for i in range(40):
        cluster.start(f"n{i:02d}")
    assert threading.active_count() - before <= 3, [t.name for t in threading.enumerate()]


def test_callbacks_of_many_nodes_run_in_order_one_at_a_time_off_the_callers_thread(
    cluster: Cluster,
) -> None:
    """Twenty nodes each broadcast thirty rumors: every node's ``on_rumor``
    sees its own in sequence order, never two of one node's callbacks at
    once, and none on the caller's thread or the runtime's."""
    nodes = [cluster.start(f"n{i:02d}") for i in range(20)]
    seen: dict[str, list[int]] = defaultdict(list)
    running: dict[str, int] = defaultdict(int)
    overlaps: list[str] = []
    threads: set[str] = set()
    lock = threading.Lock()

    def recorder(node: rumor.Node) -> Callable[[rumor.Rumor], None]:
        def on_rumor(r: rumor.Rumor) -> None:
            with lock:
                running[node.name] += 1
                if running[node.name] > 1:
                    overlaps.append(node.name)
                threads.add(threading.current_thread().name)
            # Long enough for another thread to take the GIL meanwhile.
            threading.Event().wait(0.0005)
            with lock:
                seen[node.name].append(r.seq)
                running[node.name] -= 1

        return on_rumor

    for node in nodes:
        node.on_rumor(recorder(node))
    sent: dict[str, list[int]] = defaultdict(list)
    for _ in range(30):
        for node in nodes:
            sent[node.name].append(node.broadcast(b"x"))

    def done() -> bool:
        with lock:
            return all(len(seen[n.name]) == 30 for n in nodes)

    wait_until(done, message=lambda: f"rumors seen so far: {dict(seen)}")
    for node in nodes:
        assert seen[node.name] == sent[node.name], node.name
    assert not overlaps
    assert threading.current_thread().name not in threads
    assert not any(t.startswith("rumor-io") for t in threads), threads


def test_a_blocked_callback_holds_up_only_its_own_node(cluster: Cluster) -> None:
    """Three nodes whose callback blocks until released: the others' events
    still reach their callbacks meanwhile, and the blocked nodes' own later
    events follow, in order, once they are released."""
    blocked = [cluster.start(f"b{i}") for i in range(3)]
    free = cluster.start("free")
    release = threading.Event()
    started = threading.Semaphore(0)
    after: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()

    def blocker(node: rumor.Node) -> Callable[[rumor.Rumor], None]:
        def on_rumor(r: rumor.Rumor) -> None:
            if r.seq == 1:
                started.release()
                release.wait()
            with lock:
                after[node.name].append(r.seq)

        return on_rumor

    for node in blocked:
        node.on_rumor(blocker(node))
        node.broadcast(b"first")
        node.broadcast(b"second")
    try:
        for _ in blocked:
            assert started.acquire(timeout=30), "a blocking callback never started"
        heard = threading.Event()
        free.on_rumor(lambda r: heard.set())
        free.broadcast(b"hello")
        assert heard.wait(30), "a free node's callback did not run while others were blocked"
        with lock:
            assert not any(after.values()), after
    finally:
        release.set()
    wait_until(
        lambda: all(after[n.name] == [1, 2] for n in blocked),
        message=lambda: f"after release: {dict(after)}",
    )


def test_close_waits_for_the_events_queued_before_it() -> None:
    """``close()`` returns once the callbacks of the events queued before it
    have run, so what they record is complete when it returns."""
    node = rumor.Node(name="closing", bind=f"{LOCALHOST}:0", config=fast_config())
    seen: list[int] = []

    @node.on_rumor
    def slow(r: rumor.Rumor) -> None:
        threading.Event().wait(0.01)  # so the queue is not empty at close
        seen.append(r.seq)

    for _ in range(5):
        node.broadcast(b"x")
    node.close()
    assert seen == [1, 2, 3, 4, 5]


def test_memory_is_given_back_once_a_burst_of_events_is_over() -> None:
    """The watcher trims (glibc's ``malloc_trim``) at the first quiet
    interval after a busy one, and every few intervals while busy never
    ends; an idle process never trims (issue 16: 1,000 nodes held 314 KiB
    per node after their join, 138 KiB once trimmed)."""
    trims: list[int] = []
    t = rumor.node._Trim(lambda: trims.append(1))
    burst = rumor.node.TRIM_BURST
    for _ in range(20):
        assert not t.look(0), "idle: nothing to give back"
    assert not t.look(burst) and not t.look(5 * burst), "not while busy"
    assert t.look(burst - 1), "the first quiet interval after a burst trims"
    assert len(trims) == 1
    assert not any(t.look(0) for _ in range(5)), "once per burst"
    busy = [t.look(burst) for _ in range(3 * rumor.node.TRIM_BUSY_LOOKS)]
    assert busy.count(True) == 3, "a burst that goes on trims every few intervals"
    assert len(trims) == 4


@pytest.mark.skipif(rumor.node._malloc_trim() is None, reason="no malloc_trim (not glibc)")
def test_the_pool_gives_memory_back_after_a_join(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Nodes join; once their membership events are delivered and the
    process is quiet again, the dispatcher pool's watcher gives the memory
    freed meanwhile back to the operating system."""
    monkeypatch.setattr(rumor.node, "DROP_LOG_INTERVAL", 0.2)
    monkeypatch.setattr(rumor.node, "TRIM_BURST", 1)  # this join's events are a burst
    caplog.set_level(logging.DEBUG, logger="rumor")

    def trims() -> list[str]:
        messages = (r.getMessage() for r in caplog.records)
        return [m for m in messages if "gave freed memory back" in m]

    cluster.start_joined(5)
    wait_until(lambda: len(trims()) >= 1, message=lambda: "no trim after the join")
    assert all("events" in m for m in trims())
