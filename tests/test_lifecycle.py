"""Node lifetime: garbage collection, interpreter exit, asyncio."""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest
import rumor
from support import DEADLINE, LOCALHOST, Cluster, fast_config, wait_until


def _port_free(addr: str) -> bool:
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, int(port)))
    except OSError:
        return False
    finally:
        s.close()
    return True


def test_unreferenced_node_is_closed_and_frees_its_port() -> None:
    """A Node dropped without close() is collected and its socket released."""
    node = rumor.Node(bind=f"{LOCALHOST}:0", config=fast_config())
    addr = node.addr
    assert not _port_free(addr)
    del node
    gc.collect()
    wait_until(lambda: _port_free(addr), 10.0, f"{addr} still bound after the Node was dropped")


def _start_selfish_node(name: str, seed: str) -> str:
    """Starts a node whose callbacks refer to it, joins it to ``seed``, waits
    until a callback has run, and lets go of it (only the callbacks' closures
    still hold it); returns its address."""
    node = rumor.Node(name=name, bind=f"{LOCALHOST}:0", config=fast_config())
    ran = threading.Event()

    @node.on_join
    def joined(member: rumor.Member) -> None:
        if node.members():
            ran.set()

    node.on_rumor(lambda r: node.stats())
    node.join(seed)
    assert ran.wait(DEADLINE), "on_join never ran"
    return node.addr


def test_a_node_its_own_callbacks_refer_to_is_collected(cluster: Cluster) -> None:
    """A Node referenced only by its own callbacks (``lambda m: node.members()``),
    which have run, is collected: its port is freed, and the dispatchers let
    go of it."""
    seed = cluster.start("seed")
    addr = _start_selfish_node("selfish", seed.addr)
    assert "selfish" in rumor.node._served_names()

    def freed() -> bool:
        # Collected again at each look: a dispatcher may still be finishing
        # the callback (and so hold the node) at the first collection.
        gc.collect()
        return _port_free(addr) and "selfish" not in rumor.node._served_names()

    wait_until(freed, 10.0, f"{addr} still bound, or the dispatchers still serve it")


def _run_selfish_simulation() -> weakref.ref[rumor.Simulation]:
    """Runs a simulation whose node's callbacks refer to it, and lets go of
    it; returns a weak reference to it."""
    sim = rumor.Simulation(nodes=2, config=fast_config(), seed=3, join=False)
    ran: list[int] = []
    sim.node("n0").on_join(lambda m: ran.append(len(sim.members("n0"))))
    sim.node("n1").join("n0")
    sim.run(seconds=2)
    assert ran, "on_join never ran"
    return weakref.ref(sim)


def test_a_simulation_its_callbacks_refer_to_is_collected() -> None:
    """A Simulation whose node callbacks refer to it holds no thread and is
    collected like any Python object."""
    ref = _run_selfish_simulation()
    gc.collect()
    assert ref() is None


def test_interpreter_exit_with_open_nodes_neither_hangs_nor_aborts() -> None:
    """Exiting Python with joined, open nodes and busy callbacks exits cleanly."""
    script = textwrap.dedent(
        """
        import time, rumor
        c = rumor.Config.local(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05)
        nodes = [rumor.Node(name=f"n{i}", config=c) for i in range(4)]
        for n in nodes:
            n.on_join(lambda m: time.sleep(0.05))
        for n in nodes[1:]:
            n.join(nodes[0].addr)
        nodes[3].close()
        print("exiting", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "exiting" in done.stdout
    assert "Fatal" not in done.stderr and "panicked" not in done.stderr, done.stderr


def test_interpreter_exit_waits_once_for_all_nodes_blocked_in_callbacks() -> None:
    """Three nodes whose callbacks never return: exit waits one grace period
    for all of them together (not one per node), says which nodes it gave
    up on, and exits cleanly."""
    grace = 3.0
    script = textwrap.dedent(
        f"""
        import threading, rumor, rumor.node
        rumor.node.EXIT_GRACE = {grace}
        c = rumor.Config.local(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05)
        nodes = [rumor.Node(name=f"n{{i}}", config=c) for i in range(3)]
        blocked = threading.Semaphore(0)

        def block(member):
            blocked.release()
            threading.Event().wait()  # never returns

        for n in nodes:
            n.on_join(block)
        for n in nodes[1:]:
            n.join(nodes[0].addr)
        for _ in nodes:
            assert blocked.acquire(timeout=30), "a callback never started"
        print("exiting", flush=True)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == "exiting", proc.stderr.read()
        started = time.monotonic()
        try:
            proc.wait(timeout=2 * grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"still exiting {2 * grace} s later (grace: {grace} s for all nodes)")
        took = time.monotonic() - started
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    for alarm in ("FATAL", "Fatal", "Traceback", "panicked", "Exception ignored"):
        assert alarm not in err, err
    assert "n0, n1, n2" in err, f"exit took {took:.1f} s and named no node: {err!r}"


def test_interpreter_exit_starts_no_callback_for_events_still_queued() -> None:
    """Exit lets a running callback finish but runs none for the events
    still queued behind it: the wait is for work already started.

    The seed's other three joins are queued behind the blocked callback
    either in the node's queue or in the dispatcher's batch (it takes up
    to 64 events at once, so all four when they came together): the
    script waits until the seed has learned all four, wherever their
    events wait."""
    script = textwrap.dedent(
        """
        import sys, threading, time, rumor
        c = rumor.Config.local(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05)
        seed = rumor.Node(name="seed", config=c)
        started = threading.Event()

        def slow(member):
            print("callback", member.name, flush=True)
            started.set()
            while not seed.closed:  # until exit closes the node
                time.sleep(0.01)

        seed.on_join(slow)
        peers = [rumor.Node(name=f"p{i}", config=c) for i in range(4)]
        for p in peers:
            p.join(seed.addr)
        if not started.wait(30):
            sys.exit("no callback started")
        deadline = time.monotonic() + 30
        alive = rumor.MemberState.ALIVE
        while sum(m.state == alive for m in seed.members()) < 5:  # polls, with a deadline
            if time.monotonic() > deadline:
                sys.exit("the joins were never learned")
            time.sleep(0.01)
        print("exiting", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1:] == ["exiting"], done.stdout
    assert len([line for line in lines if line.startswith("callback")]) == 1, done.stdout


def test_join_and_leave_are_awaitable(cluster: Cluster) -> None:
    """join_async and leave_async work inside a running event loop."""
    seed = cluster.start("seed")
    other = cluster.start("other")

    async def scenario() -> None:
        assert await other.join_async(seed.addr, timeout=5.0) == 1
        with pytest.raises(rumor.JoinError):
            await other.join_async(f"{LOCALHOST}:9", timeout=0.3)
        await other.leave_async(timeout=5.0)

    asyncio.run(scenario())
    wait_until(
        lambda: any(
            m.name == "other" and m.state is rumor.MemberState.LEFT for m in seed.members()
        ),
        message="the seed did not see 'other' leave",
    )


def test_a_busy_python_program_does_not_make_its_node_look_dead(cluster: Cluster) -> None:
    """A process that holds the GIL for about 5 s keeps answering probes:
    its node's engine never waits for the GIL, so no peer suspects it."""
    peers = cluster.start_joined(3)
    script = textwrap.dedent(
        f"""
        import sys, time, rumor
        c = rumor.Config.local(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05)
        node = rumor.Node(name="busy", config=c)
        node.join({peers[0].addr!r})
        deadline = time.monotonic() + 30
        while len(node.members(state="alive")) < 4:
            if time.monotonic() > deadline:
                sys.exit("never saw all 4 members alive")
            time.sleep(0.01)  # polls a condition, with a deadline
        t = time.perf_counter()
        sum(range(10**6))
        n = int(5.0 / (time.perf_counter() - t) * 10**6)
        print("busy", flush=True)
        t = time.perf_counter()
        # One call into C that runs about 5 s and never lets go of the GIL
        # (a pure-Python loop would hand it over every few milliseconds).
        sum(range(n))
        print("done", node.stats()["refutations"], time.perf_counter() - t, flush=True)
        # Open until the peers were checked: a closed port is evidence of
        # a crash, and a probe landing meanwhile would fail it.
        sys.stdin.readline()
        node.close()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == "busy", proc.stderr.read()
        suspicions = sum(p.stats()["suspicions"] for p in peers)
        line = proc.stdout.readline().split()
        assert line[:1] == ["done"], proc.stderr.read()
        assert line[1] == "0", "the busy node never had to refute anything"
        assert float(line[2]) > 2.0, f"held the GIL for {line[2]} s only"
        assert sum(p.stats()["suspicions"] for p in peers) == suspicions
        assert all(
            m.state is rumor.MemberState.ALIVE
            for p in peers
            for m in p.members()
            if m.name == "busy"
        )
        assert all(log.count("suspect", "busy") == 0 for log in cluster.logs.values())
        proc.stdin.write("close\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
