"""Real clusters on loopback: membership, failure detection, leave, restart."""

from __future__ import annotations

import threading

import pytest
import rumor
from support import (
    DEADLINE,
    Cluster,
    EventLog,
    Unraisable,
    all_alive,
    view_gaps,
    wait_for_views,
    wait_probe_rounds,
    wait_until,
)

QUIET_PROBES = 20
"""Probes each survivor makes after a decision before "exactly once" is judged:
more than a full round over the members plus the longest suspicion timeout."""


def settle(cluster: Cluster, observers: list[rumor.Node], expected: dict[str, str]) -> None:
    """Waits until every observer sees ``expected``, then :data:`QUIET_PROBES`
    more probes, then until every observer reported a newcomer's join: once
    this returns, every event of that decision has reached the callbacks, and
    a wrong second one had its chance to happen."""
    wait_for_views(observers, expected)
    wait_probe_rounds(observers, QUIET_PROBES)
    cluster.barrier(observers)


@pytest.mark.parametrize("n", [3, 8, 32])
def test_nodes_joining_through_one_seed_all_see_each_other(cluster: Cluster, n: int) -> None:
    """N nodes joined through one seed each list all N members alive, at their real addresses."""
    nodes = cluster.start_joined(n)
    addrs = {node.name: node.addr for node in nodes}
    for node in nodes:
        seen = {m.name: m.addr for m in node.members(state="alive")}
        assert seen == addrs, f"{node.name} has wrong addresses"

    def missing_joins() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for node in nodes:
            log = cluster.logs[node.name]
            absent = [o.name for o in nodes if o is not node and log.count("join", o.name) == 0]
            if absent:
                out[node.name] = absent
        return out

    wait_until(
        lambda: not missing_joins(),
        message=lambda: f"on_join not reported (observer: members): {missing_joins()}",
    )


def test_crashed_node_is_reported_failed_exactly_once_by_every_survivor(cluster: Cluster) -> None:
    """A node closed without leaving is "dead" for every survivor, and on_fail fires once each."""
    nodes = cluster.start_joined(5)
    victim = nodes[2]
    survivors = [node for node in nodes if node is not victim]
    victim.close()

    settle(cluster, survivors, {victim.name: "dead"})

    for node in survivors:
        log = cluster.logs[node.name]
        fails = log.events("fail", victim.name)
        assert len(fails) == 1, f"{node.name}: on_fail({victim.name}) fired {len(fails)} times"
        assert fails[0].state is rumor.MemberState.DEAD
        assert log.count("leave", victim.name) == 0, f"{node.name} reported a leave"
    wait_for_views(survivors, {victim.name: "dead", **all_alive(survivors)})


def test_quorum_detector_fails_a_crashed_node_everywhere(cluster: Cluster) -> None:
    """With failure_detector="quorum", survivors mark a crashed node failing
    (on_suspect), a majority agrees, and every survivor reports it failed once."""
    config = rumor.Config.local(failure_detector="quorum", node_timeout=0.5, gossip_interval=0.05)
    nodes = cluster.start_joined(6, config=config)
    victim = nodes[4]
    survivors = [node for node in nodes if node is not victim]
    victim.close()

    # Each survivor pings every other at least every node_timeout / 2.
    settle(cluster, survivors, {victim.name: "dead"})
    for node in survivors:
        log = cluster.logs[node.name]
        assert len(log.events("fail", victim.name)) == 1, f"{node.name}: on_fail not once"
        others = [o.name for o in survivors if o is not node]
        assert not any(log.count("fail", name) for name in others), f"{node.name}: false failure"
    assert sum(node.stats()["failures_declared"] for node in survivors) >= 1
    assert sum(len(cluster.logs[n.name].events("suspect", victim.name)) for n in survivors) >= 3


def test_leaving_node_fires_on_leave_not_on_fail(cluster: Cluster) -> None:
    """A node that leaves then closes is "left" everywhere: on_leave fires once, on_fail never."""
    nodes = cluster.start_joined(5)
    leaver = nodes[3]
    others = [node for node in nodes if node is not leaver]
    leaver.leave(timeout=10.0)
    leaver.close()

    settle(cluster, others, {leaver.name: "left"})

    for node in others:
        log = cluster.logs[node.name]
        leaves = log.events("leave", leaver.name)
        assert len(leaves) == 1, f"{node.name}: on_leave({leaver.name}) fired {len(leaves)} times"
        assert leaves[0].state is rumor.MemberState.LEFT
        assert log.count("fail", leaver.name) == 0, (
            f"{node.name} reported the departed node as failed: {log.kinds_about(leaver.name)}"
        )
    assert not view_gaps(others, {leaver.name: "left"}), "a departed node changed state later"


def test_whole_cluster_leaving_at_once_completes_every_leave(cluster: Cluster) -> None:
    """Every node of a cluster leaving at the same moment finishes its leave in time."""
    nodes = cluster.start_joined(6)
    errors: list[BaseException] = []

    def leave(node: rumor.Node) -> None:
        try:
            node.leave(timeout=5.0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=leave, args=(node,)) for node in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30.0)
    assert not errors, f"leaves that did not complete: {errors}"
    assert all(not t.is_alive() for t in threads)


def test_node_that_left_and_joins_again_is_a_member_again(cluster: Cluster) -> None:
    """join() after leave() makes the node alive everywhere at a higher
    incarnation: on_join fires on the others, it receives their broadcasts
    again, and it can leave again (issue 15 item 1)."""
    nodes = cluster.start_joined(3, config=rumor.Config.local())
    x, others = nodes[2], nodes[:2]
    x.leave(timeout=10.0)
    wait_for_views(nodes, {x.name: "left"})
    left_at = max(m.incarnation for node in nodes for m in node.members() if m.name == x.name)
    joins = {node.name: cluster.logs[node.name].count("join", x.name) for node in others}
    rumors: list[rumor.Rumor] = []
    x.on_rumor(rumors.append)

    assert x.join(nodes[0].addr, timeout=10.0) == 1

    def stale() -> dict[str, str]:
        out: dict[str, str] = {}
        for node in nodes:
            entry = {m.name: m for m in node.members()}.get(x.name)
            if (
                entry is None
                or entry.state is not rumor.MemberState.ALIVE
                or entry.incarnation <= left_at
            ):
                out[node.name] = repr(entry)
        return out

    wait_until(
        lambda: not stale(),
        message=lambda: f"{x.name} (left at incarnation {left_at}) not back: {stale()}",
    )

    def unreported() -> list[str]:
        return [
            node.name
            for node in others
            if cluster.logs[node.name].count("join", x.name) <= joins[node.name]
        ]

    wait_until(
        lambda: not unreported(),
        message=lambda: f"no on_join({x.name}) for the rejoin on {unreported()}",
    )
    others[1].broadcast(b"after the rejoin")
    wait_until(
        lambda: any(r.payload == b"after the rejoin" for r in rumors),
        message=f"{x.name} never received a broadcast after rejoining",
    )
    x.leave(timeout=10.0)
    wait_for_views(others, {x.name: "left"})


@pytest.mark.parametrize("wait_for_failure", [True, False], ids=["after-failure", "at-once"])
def test_restarted_node_is_alive_again_with_higher_incarnation(
    cluster: Cluster, wait_for_failure: bool
) -> None:
    """A node restarted under its name on a new port is alive everywhere at a higher incarnation."""
    nodes = cluster.start_joined(4)
    old = nodes[3]
    survivors = nodes[:3]
    old_incarnation = max(
        m.incarnation for node in nodes for m in node.members() if m.name == old.name
    )
    old.close()
    if wait_for_failure:
        wait_for_views(survivors, {old.name: "dead"})

    new = cluster.start(old.name)
    accusations: list[rumor.Accusation] = []
    new.on_refute(accusations.append)
    new.join(nodes[0].addr, timeout=10.0)
    everyone = [*survivors, new]

    def stale() -> dict[str, str]:
        out: dict[str, str] = {}
        for node in everyone:
            entry = {m.name: m for m in node.members()}.get(old.name)
            if (
                entry is None
                or entry.state is not rumor.MemberState.ALIVE
                or entry.addr != new.addr
                or entry.incarnation <= old_incarnation
            ):
                out[node.name] = repr(entry)
        return out

    wait_until(
        lambda: not stale() and not view_gaps(everyone, all_alive(everyone)),
        message=lambda: (
            f"restarted {old.name} at {new.addr} (incarnation was {old_incarnation}) not alive "
            f"everywhere: {stale()}; other gaps: {view_gaps(everyone, all_alive(everyone))}"
        ),
    )
    # It learned what the others held of its earlier life and refuted it.
    wait_until(lambda: len(accusations) > 0, message="on_refute never fired")
    assert accusations[-1].incarnation > old_incarnation
    if wait_for_failure:
        assert rumor.MemberState.DEAD in [a.state for a in accusations]
        # Back from the dead: on_join fires again ("a member ... came back").
        for node in survivors:
            wait_for_second_join(cluster.logs[node.name], old.name)


def wait_for_second_join(log: EventLog, name: str) -> None:
    """Waits until ``log`` holds two on_join events about ``name``."""
    wait_until(
        lambda: log.count("join", name) >= 2,
        message=lambda: f"{log.node.name}: no second on_join({name}): {log.kinds_about(name)}",
    )


def test_raising_callbacks_are_reported_and_later_events_still_fire(
    unraisable: Unraisable, cluster: Cluster
) -> None:
    """A raising callback is reported via sys.unraisablehook; the node and later callbacks go on."""

    def boom(member: rumor.Member) -> None:
        raise RuntimeError(f"boom {member.name}")

    after: list[tuple[str, str]] = []
    a = cluster.start("a")
    a.on_join(boom)
    a.on_fail(boom)
    a.on_join(lambda m: after.append(("join", m.name)))
    a.on_fail(lambda m: after.append(("fail", m.name)))

    messages = unraisable.messages

    def saw(kind: str, name: str) -> bool:
        return (kind, name) in after and f"boom {name}" in messages()

    b = cluster.start("b")
    b.join(a.addr)
    wait_until(lambda: saw("join", "b"), message=lambda: f"reported {messages()}, after {after}")

    c = cluster.start("c")
    c.join(a.addr)
    wait_until(lambda: saw("join", "c"), message=lambda: f"reported {messages()}, after {after}")
    # b must have heard of c before c crashes: a death notice about a member
    # b never knew is ignored, so a crash that wins the race against the
    # join's gossip would leave c unknown to b (memberlist behaves alike).
    wait_for_views([a, b, c], all_alive([a, b, c]))

    c.close()
    wait_until(
        lambda: ("fail", "c") in after and messages().count("boom c") == 2,
        message=lambda: f"reported {messages()}, after {after}",
    )

    for args in unraisable.reports:
        assert args.exc_type is RuntimeError
        assert isinstance(args.exc_value, RuntimeError)
        assert args.object is boom
    wait_for_views([a, b], {"a": "alive", "b": "alive", "c": "dead"}, timeout=DEADLINE)
