"""The Python face of the simulator: rumor.Simulation, SimNode, EventLog, plot.

Everything runs in virtual time: no sockets, no sleeps. Clusters are small
and use short protocol periods, so the whole file takes a few seconds.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
import rumor
from rumor.eventlog import EventLog, Record
from rumor.plot import spread
from support import Unraisable

N = 10
"""Nodes in most tests."""


def fast() -> rumor.Config:
    """``local`` with short periods: a crash is detected within a few virtual
    seconds, and a healed partition is noticed within one."""
    return rumor.Config.local(
        probe_interval=0.2,
        probe_timeout=0.1,
        gossip_interval=0.05,
        reconnect_interval=1.0,
        push_pull_interval=2.0,
    )


def converged(n: int = N, seed: int = 1) -> rumor.Simulation:
    """A simulation of ``n`` nodes run until every node sees every other alive."""
    sim = rumor.Simulation(n, config=fast(), seed=seed)
    sim.run_until(rumor.Simulation.converged, timeout=30)
    return sim


def script(seed: int) -> EventLog:
    """A run with every kind of fault; its event log."""
    sim = rumor.Simulation(12, config=fast(), seed=seed, loss=0.05)
    sim.set_duplicate(0.02)
    sim.set_reorder(0.05)
    sim.set_latency(mean=0.002, std=0.001, floor=0.0005, src="n1", dst="n2")
    sim.run(3)
    sim.pause("n3", 2)
    sim.kill("n7")
    sim.partition([["n0", "n1", "n2"]])
    sim.run(4)
    sim.heal()
    sim.restart("n7")
    sim.run(5)
    return sim.events()


def test_same_seed_gives_the_same_events_and_another_seed_does_not() -> None:
    """Determinism: the same seed and script give identical event logs."""
    a = script(7)
    assert len(a) > 100
    assert a == script(7)
    assert a != script(8)


def test_events_is_a_list_of_frozen_records_with_names() -> None:
    """events() holds (time, node, kind, subject, incarnation) records, names
    as str, time in seconds."""
    sim = converged()
    log = sim.events()
    first = log[0]
    assert isinstance(first, Record)
    time, node, kind, subject, incarnation = first
    assert isinstance(time, float) and 0.0 <= time <= sim.now
    assert node in sim.node_names and subject in sim.node_names
    assert kind == "join" and incarnation == 0
    with pytest.raises(AttributeError):
        first.time = 1.0  # type: ignore[misc]
    assert isinstance(log[:3], EventLog) and len(log[:3]) == 3
    assert [r.time for r in log] == sorted(r.time for r in log)
    # A snapshot: later runs do not change it.
    size = len(log)
    sim.kill("n3")
    sim.run(1)
    assert len(log) == size < len(sim.events())
    assert [r[1:] for r in sim.events(kind="killed")] == [("n3", "killed", "n3", 0)]
    assert list(sim.events(node="n1", kind="join")) == list(
        sim.events().filter(node="n1", kind="join")
    )


def test_killed_node_is_known_failed_by_all_within_a_bound() -> None:
    """After kill, every running node holds the node dead within a few probe rounds."""
    sim = converged()
    killed_at = sim.now
    sim.kill("n4")
    assert sim.node("n4").closed
    detected = sim.run_until(lambda s: s.all_know_failed("n4"), timeout=30)
    # Round-robin probing reaches n4 within (n - 1) probe periods, then the
    # suspicion timeout (3 * 0.2 s) and a few gossip rounds.
    assert detected - killed_at < (N - 1) * 0.2 + 0.6 + 3.0
    assert sim.state("n0", "n4") is rumor.MemberState.DEAD
    assert sim.count_seeing("n4", "dead") == N - 1
    assert sim.all_see("n4", rumor.MemberState.DEAD)


def test_stats_tell_how_a_failure_was_decided() -> None:
    """A killed process's closed port is evidence; without it, the suspicion runs out."""
    for evidence, key in ((True, "failures_by_evidence"), (False, "failures_by_timeout")):
        config = rumor.Config.local(closed_port_evidence=evidence)
        sim = rumor.Simulation(8, config=config, seed=5, join="converged")
        sim.run(2)
        sim.kill("n4")
        sim.run_until(lambda s: s.all_know_failed("n4"), timeout=60)
        stats = [sim.node(f"n{i}").stats() for i in range(8) if i != 4]
        assert sum(s[key] for s in stats) >= 1
        assert sum(s["failures_declared"] for s in stats) == sum(
            s["failures_by_evidence"] + s["failures_by_timeout"] for s in stats
        )


def test_a_converged_start_knows_everyone_at_once_and_still_detects_failures() -> None:
    """join="converged": a large cluster ready at t=0, without join traffic."""
    sim = rumor.Simulation(2000, config=fast(), seed=3, join="converged")
    assert sim.converged()
    assert len(sim.members("n1999")) == 2000
    assert len(sim.events()) == 0
    failed: list[str] = []
    sim.node("n5").on_fail(lambda m: failed.append(m.name))
    sim.kill("n42")
    sim.run_until(lambda s: s.all_know_failed("n42"), timeout=60)
    assert failed == ["n42"]
    assert sim.count_seeing("n42", "alive") == 0


@pytest.mark.parametrize(
    ("evidence", "reason"), [(True, "closed_port"), (False, "suspicion_timeout")]
)
def test_on_fail_names_the_reason_of_the_death(evidence: bool, reason: str) -> None:
    """Every survivor's on_fail member says why it died: a killed node's
    closed port, or (without closed-port evidence) a suspicion that ran out;
    the reason is gossiped with the death, not only known to its decider."""
    config = rumor.Config.local(
        probe_interval=0.2,
        probe_timeout=0.1,
        gossip_interval=0.05,
        reconnect_interval=1.0,
        push_pull_interval=2.0,
        closed_port_evidence=evidence,
    )
    sim = rumor.Simulation(N, config=config, seed=3)
    sim.run_until(rumor.Simulation.converged, timeout=30)
    seen: dict[str, str | None] = {}
    for name in sim.node_names:
        if name != "n6":
            sim.node(name).on_fail(lambda m, at=name: seen.__setitem__(at, m.failure_reason))
    sim.kill("n6")
    sim.run_until(lambda s: s.all_know_failed("n6"), timeout=60)
    assert seen == {name: reason for name in sim.node_names if name != "n6"}
    # Only the failure event carries it: the member as held has none.
    assert all(m.failure_reason is None for m in sim.members("n1"))


def test_callbacks_fire_at_the_virtual_time_of_their_record() -> None:
    """Inside a callback, sim.now equals the event-log time of its event."""
    sim = rumor.Simulation(N, config=fast(), seed=3)
    seen: list[tuple[str, float, str, rumor.MemberState]] = []
    n2 = sim.node("n2")

    @n2.on_join
    def joined(member: rumor.Member) -> None:
        seen.append(("join", sim.now, member.name, member.state))

    returned = n2.on_fail(lambda m: seen.append(("fail", sim.now, m.name, m.state)))
    assert callable(returned) and joined.__name__ == "joined"
    sim.run_until(rumor.Simulation.converged, timeout=30)
    sim.kill("n6")
    sim.run_until(lambda s: s.all_know_failed("n6"), timeout=30)

    expected = [
        (r.kind, r.time, r.subject) for r in sim.events(node="n2") if r.kind in ("join", "fail")
    ]
    assert [(k, t, name) for k, t, name, _ in seen] == expected
    assert {name for k, _, name, _ in seen if k == "join"} == set(sim.node_names) - {"n2"}
    assert ("fail", "n6", rumor.MemberState.DEAD) in [(k, n, s) for k, _, n, s in seen]


def test_raising_callback_is_reported_and_the_run_continues(unraisable: Unraisable) -> None:
    """A callback that raises goes to sys.unraisablehook; later callbacks and the run go on."""
    sim = rumor.Simulation(5, config=fast(), seed=2)

    def boom(member: rumor.Member) -> None:
        raise RuntimeError(f"boom {member.name}")

    after: list[str] = []
    n0 = sim.node("n0")
    n0.on_join(boom)
    n0.on_join(lambda m: after.append(m.name))
    sim.run_until(rumor.Simulation.converged, timeout=30)

    assert sorted(after) == ["n1", "n2", "n3", "n4"]
    assert sorted(unraisable.messages()) == [f"boom n{i}" for i in range(1, 5)]
    assert all(a.object is boom and a.exc_type is RuntimeError for a in unraisable.reports)


def interrupted_joins(node: rumor.SimNode) -> tuple[list[str], list[str]]:
    """Registers two on_join callbacks on ``node``: the first records the
    joiner and raises KeyboardInterrupt (a Ctrl-C) the first time, the second
    records the joiner. Returns both records, filled as the runs go."""
    calls: list[str] = []
    after: list[str] = []

    def interrupt_once(member: rumor.Member) -> None:
        calls.append(member.name)
        if len(calls) == 1:
            raise KeyboardInterrupt

    node.on_join(interrupt_once)
    node.on_join(lambda m: after.append(m.name))
    return calls, after


def test_ctrl_c_in_a_callback_stops_the_run_and_loses_no_callback() -> None:
    """KeyboardInterrupt raised by a callback propagates; the callbacks it
    cut off run first thing in the next run, in order."""
    sim = rumor.Simulation(5, config=fast(), seed=2)
    calls, after = interrupted_joins(sim.node("n4"))
    with pytest.raises(KeyboardInterrupt):
        sim.run_until(rumor.Simulation.converged, timeout=30)
    assert len(calls) == 1 and after == [], "the second callback of that event is still due"
    interrupted_at = sim.now
    sim.run(0)
    # Everything cut off ran at once, in order, before the simulation moved on.
    assert after == calls
    assert sim.now == interrupted_at
    sim.run_until(rumor.Simulation.converged, timeout=30)
    assert sorted(calls) == sorted(after) == ["n0", "n1", "n2", "n3"]


def test_run_until_fires_callbacks_cut_off_by_ctrl_c_before_its_predicate() -> None:
    """Even when the predicate already holds, run_until first runs what a
    Ctrl-C left due."""
    sim = rumor.Simulation(5, config=fast(), seed=2)
    interrupted, after = interrupted_joins(sim.node("n4"))
    with pytest.raises(KeyboardInterrupt):
        sim.run(1)
    assert after == []
    at = sim.now
    sim.run_until(lambda s: True, timeout=1)
    assert after[:1] == interrupted[:1], "the second callback of the interrupted event ran"
    assert sim.now == at


def test_a_callback_cannot_run_the_simulation_it_is_called_from(unraisable: Unraisable) -> None:
    """Running the simulation from inside its own callback is refused with a
    UsageError (a RuntimeError), reported like any raising callback."""
    sim = rumor.Simulation(3, config=fast(), seed=2)
    sim.node("n0").on_join(lambda m: sim.run(1))
    sim.run_until(rumor.Simulation.converged, timeout=30)
    reports = unraisable.reports
    assert reports and all(isinstance(a.exc_value, rumor.UsageError) for a in reports)
    assert all(isinstance(a.exc_value, RuntimeError) for a in reports)


def test_partition_then_heal_converges_again() -> None:
    """A two-way partition makes each side fail the other; after heal, all are alive again."""
    sim = converged()
    left = [f"n{i}" for i in range(5)]
    sim.partition([left])
    sim.run_until(
        lambda s: (
            s.state("n0", "n9") is rumor.MemberState.DEAD
            and s.state("n9", "n0") is rumor.MemberState.DEAD
        ),
        timeout=60,
    )
    assert not sim.converged()
    sim.heal()
    sim.run_until(rumor.Simulation.converged, timeout=60)


def test_one_way_partition_and_per_link_loss() -> None:
    """A one-way partition silences the first group; a lossy link only drops its own traffic."""
    sim = converged()
    sim.set_loss(1.0, src="n1", dst="n2")
    sim.partition([["n0"]], one_way=True)
    sim.run_until(lambda s: s.all_know_failed("n0"), timeout=30)
    assert sim.node("n0").stats()["sim_datagrams_dropped"] > 0
    # n1 sends to n2 only when it probes or gossips to it: wait for that.
    sim.run_until(lambda s: s.node("n1").stats()["sim_datagrams_dropped"] > 0, timeout=30)
    sim.heal()
    sim.set_loss(0.0)  # every link, the n1 -> n2 override included
    sim.run_until(rumor.Simulation.converged, timeout=60)


def test_paused_node_is_silent_then_resumes() -> None:
    """A paused node neither sends nor receives, then runs again with its state
    and handles what waited in its receive buffer."""
    sim = converged()
    n2 = sim.node("n2")
    before = n2.stats()
    sim.pause("n2", 1.0)
    assert n2.paused and not n2.running and not n2.closed
    sim.run(0.9)
    during = n2.stats()
    assert during["sim_datagrams_sent"] == before["sim_datagrams_sent"]
    assert during["sim_datagrams_received"] == before["sim_datagrams_received"]
    assert during["sim_datagrams_missed"] == before["sim_datagrams_missed"]
    sim.run(0.2)
    assert n2.running
    assert n2.stats()["received_ping"] > during["received_ping"], "the buffered probes"
    assert [r.kind for r in sim.events(node="n2") if r.kind in ("paused", "resumed")] == [
        "paused",
        "resumed",
    ]
    sim.run(1.0)
    assert n2.stats()["sim_datagrams_sent"] > during["sim_datagrams_sent"]
    sim.run_until(rumor.Simulation.converged, timeout=30)


def test_stalled_node_keeps_sending_reads_later_and_lifeguard_spares_its_peers() -> None:
    """A stalled node's timers run and it sends, but it reads nothing until the
    stall ends; its probes fail, but it sees the datagrams waiting unread and
    holds its accusations back (load shedding): nobody is suspected or failed."""
    sim = converged()
    n2 = sim.node("n2")
    before = n2.stats()
    # Longer than a suspicion's minimum (0.6 s here), shorter than Lifeguard's
    # lone-accuser timeout (six times that).
    sim.stall("n2", 2.0)
    assert n2.stalled and n2.running
    sim.run(1.9)
    during = n2.stats()
    assert during["sim_datagrams_sent"] > before["sim_datagrams_sent"] + 10
    assert during["sim_datagrams_received"] == before["sim_datagrams_received"]
    sim.run(0.2)
    assert not n2.stalled
    assert n2.stats()["sim_datagrams_received"] > during["sim_datagrams_received"]
    sim.run(30.0)
    kinds = [r.kind for r in sim.events(node="n2") if r.kind in ("stalled", "unstalled")]
    assert kinds == ["stalled", "unstalled"]
    assert n2.stats()["suspicions_held"] > 0, "its probes failed"
    assert not any(r.kind == "suspect" for r in sim.events(node="n2")), "it held them back"
    assert [r for r in sim.events(kind="fail") if r.subject != "n2"] == []


def test_restart_comes_back_with_a_higher_incarnation() -> None:
    """A crashed and restarted node rejoins, seen with a higher incarnation than before."""
    sim = converged()
    (old,) = [m for m in sim.members("n0") if m.name == "n5"]
    sim.kill("n5")
    sim.run_until(lambda s: s.all_know_failed("n5"), timeout=30)
    sim.restart("n5")
    assert not sim.node("n5").closed
    sim.run_until(rumor.Simulation.converged, timeout=60)
    (new,) = [m for m in sim.members("n0") if m.name == "n5"]
    assert new.state is rumor.MemberState.ALIVE
    assert new.incarnation > old.incarnation
    assert "restarted" in [r.kind for r in sim.events(node="n5")]


# -- code written against rumor.Node ----------------------------------------


def track_failures(node: rumor.Node | rumor.SimNode) -> list[str]:
    """Written for a Node: collects the names of failed members."""
    failed: list[str] = []

    @node.on_fail
    def record(member: rumor.Member) -> None:
        failed.append(member.name)

    return failed


def alive_peers(node: rumor.Node | rumor.SimNode) -> list[str]:
    """Written for a Node: names of the other alive members."""
    return [m.name for m in node.members("alive") if m.name != node.name]


def test_code_written_for_a_node_runs_against_a_simnode() -> None:
    """members/on_fail/join/leave/stats/set_meta used as on a rumor.Node work
    on a SimNode."""
    sim = rumor.Simulation(4, config=fast(), seed=5, join=False)
    n0, n1, n2, n3 = (sim.node(name) for name in sim.node_names)
    assert sim.node("n1") is n1
    assert n1.name == "n1" and n1.addr.endswith(":7946")
    assert n1.join(n0.addr) == 1  # by address, as for a Node
    assert n2.join(["n0"]) == 1  # or by name
    assert n3.join("n1") == 1
    failed = track_failures(n1)
    sim.run_until(rumor.Simulation.converged, timeout=30)
    assert alive_peers(n1) == ["n0", "n2", "n3"]
    stats = n1.stats()
    for key in ("packets_sent", "bytes_received", "dropped_total", "members_alive", "probes"):
        assert key in stats, key
    assert stats["members_alive"] == 4

    n1.set_meta(b"zone=b")
    sim.run_until(
        lambda s: all(m.meta == b"zone=b" for m in s.members("n0") if m.name == "n1"), timeout=30
    )
    with pytest.raises(rumor.MetaTooLargeError, match="max_meta_size"):
        n1.set_meta(bytes(10_000))

    n3.close()
    sim.run_until(lambda s: s.all_know_failed("n3"), timeout=30)
    assert failed == ["n3"]

    n2.leave()
    sim.run_until(lambda s: s.all_see("n2", "left"), timeout=30)
    assert [m.state for m in n0.members() if m.name == "n2"] == [rumor.MemberState.LEFT]


def test_a_join_skips_the_node_itself_among_its_seeds() -> None:
    """SimNode.join given its own name besides a live seed joins through the
    other; with no seed answering, each seed gets its own reason."""
    sim = rumor.Simulation(3, config=fast(), seed=1, join=False)
    assert sim.node("n1").join(["n1", "n0"]) == 1
    sim.kill("n0")
    with pytest.raises(rumor.JoinError) as info:
        sim.node("n2").join(["n2", "n0"], timeout=1.0)
    assert str(info.value) == (
        "no seed answered for n2: n2 (this node itself), n0 (no answer within 1 virtual s)"
    )


def test_sim_node_that_left_and_joins_again_is_a_member_again() -> None:
    """SimNode.join after leave makes it alive everywhere at a higher
    incarnation, reported as a join (issue 15 item 1)."""
    sim = rumor.Simulation(4, config=fast(), seed=3)
    n3 = sim.node("n3")
    joined: list[str] = []
    sim.run_until(rumor.Simulation.converged, timeout=30)
    sim.node("n0").on_join(lambda m: joined.append(m.name))
    n3.leave()
    sim.run_until(lambda s: s.all_see("n3", "left"), timeout=30)
    left_at = max(m.incarnation for m in sim.members("n0") if m.name == "n3")
    n3.join("n0")
    sim.run_until(rumor.Simulation.converged, timeout=30)
    for name in sim.node_names:
        entry = [m for m in sim.members(name) if m.name == "n3"]
        assert [(m.state, m.incarnation > left_at) for m in entry] == [
            (rumor.MemberState.ALIVE, True)
        ], name
    assert joined == ["n3"]


def test_join_through_a_dead_seed_raises_join_error() -> None:
    """SimNode.join raises rumor.JoinError when no seed answers in time."""
    sim = rumor.Simulation(3, config=fast(), seed=1, join=False)
    sim.kill("n0")
    start = sim.now
    with pytest.raises(rumor.JoinError, match="n0"):
        sim.node("n1").join("n0", timeout=2.0)
    assert sim.now == pytest.approx(start + 2.0)
    with pytest.raises(rumor.NodeClosedError):
        sim.node("n0").join("n1")


def test_run_until_raises_timeout_error_after_the_timeout() -> None:
    """run_until raises rumor.TimeoutError (a TimeoutError) and has run exactly the timeout."""
    sim = rumor.Simulation(3, config=fast(), seed=1)
    with pytest.raises(rumor.TimeoutError, match="never"):

        def never(s: rumor.Simulation) -> bool:
            return False

        sim.run_until(never, timeout=1.5, every=0.1)
    assert sim.now == pytest.approx(1.5)
    assert isinstance(rumor.TimeoutError("x"), TimeoutError)
    assert sim.run_until(lambda s: True, timeout=1.0) == sim.now


def test_stats_has_totals_and_intervals() -> None:
    """stats() sums the simulator's counters and lists per-interval counters."""
    sim = converged()
    sim.run(2)
    stats = sim.stats()
    assert stats["nodes"] == N and stats["running"] == N
    assert stats["datagrams_sent"] > 0 and stats["bytes_sent"] > 0
    assert stats["records"] == len(sim.events())
    intervals = stats["intervals"]
    assert [iv["start"] for iv in intervals] == [float(i) for i in range(len(intervals))]
    assert sum(iv["datagrams_sent"] for iv in intervals) <= stats["datagrams_sent"]
    assert sim.add_node().name == f"n{N}" and len(sim) == N + 1


BAD_ARGUMENTS: list[tuple[str, Callable[[rumor.Simulation], object], str]] = [
    (
        "unknown node",
        lambda s: s.kill("n99"),
        r'name must be the name of a node, n0 to n9, got "n99"',
    ),
    ("unknown node handle", lambda s: s.node("x"), r'name must be .* n0 to n9, got "x"'),
    ("unknown group member", lambda s: s.partition([["n0", "zz"]]), r"groups.*zz"),
    ("unknown link end", lambda s: s.set_loss(0.1, src="n0", dst="n42"), r"dst.*n42"),
    ("half a link", lambda s: s.set_loss(0.1, src="n0"), r"src and dst"),
    ("negative run", lambda s: s.run(-1), r"seconds.*between 0 and 1e9"),
    ("negative pause", lambda s: s.pause("n1", -0.5), r"seconds.*between 0 and 1e9"),
    ("negative timeout", lambda s: s.run_until(lambda _: True, timeout=-1), r"timeout"),
    ("zero every", lambda s: s.run_until(lambda _: True, every=0), r"every.*above 0"),
    ("loss above 1", lambda s: s.set_loss(1.5), r"loss.*between 0 and 1"),
    ("loss below 0", lambda s: s.set_loss(-0.1), r"loss.*between 0 and 1"),
    ("nan loss", lambda s: s.set_loss(float("nan")), r"loss.*between 0 and 1"),
    ("duplicate above 1", lambda s: s.set_duplicate(2), r"duplicate.*between 0 and 1"),
    ("negative latency", lambda s: s.set_latency(-0.001), r"latency.*between 0 and 1e9"),
    ("inverted latency", lambda s: s.set_latency((0.2, 0.1)), r"latency.*low <= high"),
    ("negative std", lambda s: s.set_latency(mean=0.1, std=-1), r"std.*between 0 and 1e9"),
    ("bad state", lambda s: s.all_see("n1", "gone"), r"state must be one of alive, .*'gone'"),
    ("bad kind", lambda s: s.events(kind="exploded"), r"kind.*exploded"),
]


@pytest.mark.parametrize(
    ("call", "pattern"),
    [pytest.param(call, pattern, id=label) for label, call, pattern in BAD_ARGUMENTS],
)
def test_bad_arguments_raise_argument_error_naming_the_argument(
    call: Callable[[rumor.Simulation], object], pattern: str
) -> None:
    """Bad arguments raise rumor.ArgumentError (a ValueError) naming the
    argument and its allowed range."""
    sim = rumor.Simulation(N, config=fast(), seed=1)
    with pytest.raises(rumor.ArgumentError, match=pattern) as info:
        call(sim)
    assert isinstance(info.value, ValueError)
    sim.run(0.5)  # and the simulation still works


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"nodes": 0}, r"nodes.*at least 1"),
        ({"nodes": 3, "seed": -1}, r"seed.*2\*\*64"),
        ({"nodes": 3, "loss": 1.01}, r"loss.*between 0 and 1"),
        ({"nodes": 3, "latency": (0.01, 0.001)}, r"latency.*low <= high"),
        ({"nodes": 3, "join": "yes"}, r"join must be True, False or \"converged\""),
    ],
)
def test_bad_constructor_arguments_raise_argument_error(
    kwargs: dict[str, object], pattern: str
) -> None:
    """Simulation(...) validates its arguments like the methods do."""
    with pytest.raises(rumor.ArgumentError, match=pattern):
        rumor.Simulation(**kwargs)  # type: ignore[arg-type]


def test_to_pandas_works_or_names_pandas() -> None:
    """EventLog.to_pandas() returns a DataFrame, or raises ImportError mentioning pandas."""
    sim = converged(4)
    log = sim.events()
    try:
        import pandas  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            log.to_pandas()
        return
    frame = log.to_pandas()
    assert list(frame.columns) == ["time", "node", "kind", "subject"]
    assert len(frame) == len(log)


def test_spread_counts_each_reporting_node_once() -> None:
    """spread() is the step curve plot_spread draws: one step per new reporter."""
    sim = converged()
    sim.kill("n3")
    sim.run_until(lambda s: s.all_know_failed("n3"), timeout=30)
    steps = spread(sim, "n3", "fail")
    assert [k for _, k in steps] == list(range(1, N))
    assert [t for t, _ in steps] == sorted(t for t, _ in steps)
    with pytest.raises(rumor.ArgumentError, match="kind"):
        spread(sim, "n3", "exploded")
    sim.node("n1").broadcast(b"news")
    sim.run(2)
    assert spread(sim, "n1", "rumor")[-1][1] == N - 1, "every survivor delivered n1's broadcast"


def test_plot_spread_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib, plot_spread raises ImportError naming rumor[plot]."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    sim = converged(4)
    with pytest.raises(ImportError, match=r"pip install rumor\[plot\]"):
        rumor.plot.plot_spread(sim, "n1", "join")


def test_plot_spread_draws_the_step_curve() -> None:
    """plot_spread draws how many nodes reported the failure, on the Axes it returns."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    sim = converged()
    sim.kill("n3")
    sim.run_until(lambda s: s.all_know_failed("n3"), timeout=30)
    ax = rumor.plot.plot_spread(sim, "n3")
    (curve,) = [line for line in ax.get_lines() if line.get_label() == "fail of n3"]
    ydata: Any = curve.get_ydata()
    assert ydata[-1] == N - 1
    assert "virtual time" in ax.get_xlabel()
    pyplot = pytest.importorskip("matplotlib.pyplot")
    pyplot.close("all")


def test_member_snapshots_are_frozen_dataclasses() -> None:
    """members() returns the same frozen Member snapshots a Node returns."""
    sim = converged(3)
    members = sim.members("n0")
    assert [m.name for m in members] == ["n0", "n1", "n2"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        members[0].name = "x"  # type: ignore[misc]


def test_callback_member_state_is_the_one_its_event_left() -> None:
    """A callback gets the member in the state its event left it, even when a
    later event of the same simulator step already moved it on."""
    sim = rumor.Simulation(nodes=6, seed=3)
    sim.run(5)
    sim.pause("n3", 30)
    sim.run_until(lambda s: s.state("n0", "n3") is rumor.MemberState.SUSPECT, timeout=30)
    # As if a join of n3 and its suspicion had come out of one step.
    joined = sim._member_of(Record(sim.now, "n0", "join", "n3"))
    assert joined.state is rumor.MemberState.ALIVE
    assert joined.name == "n3" and joined.addr == sim.node("n3").addr
    suspected = sim._member_of(Record(sim.now, "n0", "suspect", "n3"))
    assert suspected.state is rumor.MemberState.SUSPECT


def test_a_paused_node_without_a_receive_buffer_misses_its_traffic() -> None:
    """set_receive_buffer(0): what reaches a paused node is lost and counted."""
    sim = converged()
    sim.set_receive_buffer(0)
    before = sim.node("n2").stats()
    sim.pause("n2", 1.0)
    sim.run(0.9)
    during = sim.node("n2").stats()
    assert during["sim_missed_ping"] > before["sim_missed_ping"]
    assert during["sim_datagrams_missed"] > before["sim_datagrams_missed"]
    with pytest.raises(rumor.ArgumentError, match=r"size must be a number of bytes, 0 or more"):
        sim.set_receive_buffer(-1)


def test_a_paused_node_hears_it_was_declared_dead_and_refutes() -> None:
    """SimNode.on_refute: after a pause long enough to be declared dead, the
    node learns it and refutes with a higher incarnation."""
    sim = converged()
    accusations: list[rumor.Accusation] = []
    sim.node("n3").on_refute(accusations.append)
    sim.pause("n3", 8)
    sim.run_until(lambda s: len(accusations) > 0, timeout=30)
    assert accusations[0].state in (rumor.MemberState.SUSPECT, rumor.MemberState.DEAD)
    assert accusations[0].incarnation >= 1
    refutes = sim.events(node="n3", kind="refute")
    assert [r.incarnation for r in refutes][:1] == [accusations[0].incarnation], (
        "the log and the callback call a refutation by one name"
    )
    sim.run_until(rumor.Simulation.converged, timeout=30)


def test_leaving_the_with_block_of_a_paused_node_still_closes_it() -> None:
    """__exit__ swallows the RumorError of a leave that cannot happen (a
    paused node: UsageError) and closes; an error of the block propagates."""
    sim = converged(3)
    with pytest.raises(KeyError):
        with sim.node("n1") as n1:
            sim.pause("n1", 5)
            with pytest.raises(rumor.UsageError, match="n1 is paused"):
                n1.broadcast(b"x")
            raise KeyError("from the block")
    assert n1.closed


def test_names_of_the_wrong_type_are_argument_type_errors() -> None:
    """A node name that is not a str raises ArgumentTypeError naming the argument."""
    sim = rumor.Simulation(3, config=fast(), seed=1)
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: sim.kill(3), "name must be a str, got int"),  # type: ignore[arg-type]
        (lambda: sim.partition([[0]]), "groups must be a str, got int"),  # type: ignore[list-item]
        (lambda: sim.set_loss(0.1, src=1, dst="n0"), "src must be a str, got int"),  # type: ignore[arg-type]
        (lambda: sim.events(kind=1), "kind must be a str, got int"),  # type: ignore[arg-type]
        (lambda: sim.node("n0").key_values(0), "member must be a str, got int"),  # type: ignore[arg-type]
        (
            lambda: sim.node("n0").set_meta("x"),  # type: ignore[arg-type]
            "meta must be bytes, bytearray or memoryview, got str",
        ),
    ]
    for call, message in calls:
        with pytest.raises(rumor.ArgumentTypeError) as info:
            call()
        assert str(info.value) == message
        assert isinstance(info.value, TypeError)


def test_records_and_callbacks_carry_the_incarnation_of_their_event() -> None:
    """A paused node is suspected and declared failed at incarnation 0, then
    refutes when it resumes: the records and the callbacks show each event's
    own incarnation."""
    sim = converged()
    seen: list[tuple[str, int]] = []
    n0 = sim.node("n0")
    n0.on_suspect(lambda m: seen.append(("suspect", m.incarnation)))
    n0.on_fail(lambda m: seen.append(("fail", m.incarnation)))
    n0.on_join(lambda m: seen.append(("join", m.incarnation)))
    sim.pause("n3", 1.5)
    sim.run_until(lambda s: ("join", 1) in seen, timeout=30)
    assert seen == [("suspect", 0), ("fail", 0), ("join", 1)]
    log = sim.events()
    assert {r.incarnation for r in log.filter(kind="fail", subject="n3")} == {0}
    assert [r.incarnation for r in log.filter(node="n3", kind="refute")] == [1]
    assert all(r.incarnation == 1 for r in log.filter(kind="join", subject="n3") if r.time > 1)


def test_a_simulation_freed_on_another_thread_is_dropped_cleanly() -> None:
    """A Simulation in a reference cycle (its node handles point back at it)
    is freed by whichever thread runs the garbage collector, with no error."""
    sim = rumor.Simulation(3, seed=1)
    sim.node("n0")
    del sim
    collector = threading.Thread(target=gc.collect)
    collector.start()
    collector.join()
