"""Broadcasts and the replicated state on real loopback nodes, and in the
simulator from Python."""

from __future__ import annotations

import threading

import pytest
import rumor
from support import Cluster, fast_config, wait_probe_rounds, wait_until

QUIET_PROBES = 10
"""Probes each node makes before "exactly once" is judged: far longer than
rumor mongering keeps pushing (a few gossip rounds of 50 ms)."""


def syncing_config() -> rumor.Config:
    """:func:`fast_config` with an anti-entropy sync every 0.5 s."""
    return rumor.Config.local(
        probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05, push_pull_interval=0.5
    )


def test_a_broadcast_from_one_of_32_reaches_all_32_exactly_once(cluster: Cluster) -> None:
    """Every member's on_rumor, the sender's too, gets the broadcast once."""
    nodes = cluster.start_joined(32)
    lock = threading.Lock()
    got: dict[str, list[rumor.Rumor]] = {node.name: [] for node in nodes}
    for node in nodes:
        node.on_rumor(lambda r, name=node.name: got[name].append(r))
    sender = nodes[5]
    seq = sender.broadcast(b"deploy v42")

    def missing() -> list[str]:
        with lock:
            return [name for name, rumors in got.items() if not rumors]

    wait_until(lambda: not missing(), message=lambda: f"no rumor at {missing()}")
    wait_probe_rounds(nodes, QUIET_PROBES)
    cluster.barrier(nodes)
    expected = rumor.Rumor(sender.name, seq, b"deploy v42")
    assert {name: rumors for name, rumors in got.items()} == {
        node.name: [expected] for node in nodes
    }


def test_state_set_on_one_node_is_visible_on_all(cluster: Cluster) -> None:
    """set/delete spread to every member's get(), state() and on_update."""
    nodes = cluster.start_joined(8)
    updates: list[tuple[str, str, str, rumor.news.Value | None]] = []
    lock = threading.Lock()
    for node in nodes:

        def record(member: str, key: str, value: object, name: str = node.name) -> None:
            with lock:
                updates.append((name, member, key, value))  # type: ignore[arg-type]

        node.on_update(record)
    owner = nodes[3]
    owner.set("role", "db")
    owner.set("blob", b"\x00\x01")
    wait_until(
        lambda: all(n.key_values(owner.name) == {"role": "db", "blob": b"\x00\x01"} for n in nodes),
        message=lambda: str({n.name: n.key_values(owner.name) for n in nodes}),
    )
    owner.delete("role")
    wait_until(lambda: all(n.get(owner.name, "role") is None for n in nodes))
    assert nodes[0].get(owner.name, "blob") == b"\x00\x01"
    assert nodes[0].get(owner.name, "nothing") is None
    cluster.barrier(nodes)
    with lock:
        for node in nodes:
            mine = [(k, v) for name, m, k, v in updates if name == node.name and m == owner.name]
            # Different keys may arrive in any order; one key's changes in order.
            assert [v for k, v in mine if k == "role"] == ["db", None], node.name
            assert [v for k, v in mine if k == "blob"] == [b"\x00\x01"], node.name


def test_oversized_payloads_and_bad_values_are_refused_clearly(node: rumor.Node) -> None:
    """A payload too big even for a stream names the limit (ItemError, a
    ValueError); a value of the wrong type is an ArgumentTypeError (a
    TypeError); a bad key an ItemError."""
    limit = node.max_broadcast_size
    assert limit == fast_config().max_stream_size
    with pytest.raises(rumor.ItemError, match=f"at most {limit}"):
        node.broadcast(bytes(limit + 1))
    with pytest.raises(rumor.ArgumentTypeError, match="value must be str, bytes, bytearray or"):
        node.set("k", 5)  # type: ignore[arg-type]
    with pytest.raises(rumor.ItemError, match="key must be 1 to 256 bytes long, got 0"):
        node.set("", "x")
    with pytest.raises(rumor.ItemError, match="do not fit"):
        node.set("k", "x" * (limit + 1))
    assert node.key_values(node.name) == {}
    no_streams = rumor.Node(bind="127.0.0.1:0", config=rumor.Config.local(max_stream_size=0))
    try:
        assert 1000 < no_streams.max_broadcast_size < 1400
    finally:
        no_streams.close()


MIB4 = 4 * 1024 * 1024


def test_a_broadcast_and_a_value_of_exactly_4_mib_arrive(cluster: Cluster) -> None:
    """The README's "up to 4 MiB by default" is the payload limit: exactly
    4,194,304 bytes is accepted and arrives, as a broadcast and as a value;
    one byte more is refused."""
    a, b = cluster.start_joined(2)
    assert a.max_broadcast_size == MIB4 == rumor.Config.lan().max_stream_size
    got: list[rumor.Rumor] = []
    b.on_rumor(got.append)
    payload = bytes(range(256)) * (MIB4 // 256)
    a.broadcast(payload)
    a.set("blob", payload)
    wait_until(
        lambda: len(got) == 1 and b.get(a.name, "blob") == payload,
        message=lambda: f"{len(got)} rumors; blob of {len(b.get(a.name, 'blob') or b'')} bytes",
    )
    assert got[0].payload == payload
    with pytest.raises(rumor.ItemError, match=f"at most {MIB4}"):
        a.broadcast(payload + b"x")


def test_payloads_too_big_for_a_datagram_go_over_tcp(cluster: Cluster) -> None:
    """A 200 KB broadcast and a 100 KB value reach every member, once."""
    nodes = cluster.start_joined(8)
    lock = threading.Lock()
    got: dict[str, list[bytes]] = {node.name: [] for node in nodes}
    for node in nodes:

        def record(r: rumor.Rumor, name: str = node.name) -> None:
            with lock:
                got[name].append(r.payload)

        node.on_rumor(record)
    payload = bytes(range(256)) * 800
    nodes[1].broadcast(payload)
    nodes[2].set("blob", b"\x07" * 100_000)
    wait_until(
        lambda: (
            all(len(v) == 1 for v in got.values())
            and all(n.get(nodes[2].name, "blob") == b"\x07" * 100_000 for n in nodes)
        ),
        message=lambda: f"rumors: { {k: len(v) for k, v in got.items()} }",
    )
    wait_probe_rounds(nodes, QUIET_PROBES)
    cluster.barrier(nodes)
    assert all(v == [payload] for v in got.values())
    assert sum(n.stats()["streams_received"] for n in nodes) > 0


def test_a_restarted_node_rejoins_with_its_new_state_and_gets_what_it_missed(
    cluster: Cluster,
) -> None:
    """Writes made while a node was down reach it after it comes back, and
    what its new life sets replaces its earlier life's state everywhere."""
    a, b, c = cluster.start_joined(3, config=syncing_config())
    c.set("life", "first")
    c.set("old", "x")
    wait_until(lambda: a.get(c.name, "life") == "first")
    c.close()
    a.set("while-c-was-down", "yes")
    b.broadcast(b"missed by c")
    c2 = rumor.Node(name=c.name, bind="127.0.0.1:0", config=syncing_config())
    cluster.nodes.append(c2)
    rumors: list[rumor.Rumor] = []
    c2.on_rumor(rumors.append)
    c2.set("life", "second")
    c2.join(a.addr)
    wait_until(
        lambda: c2.get(a.name, "while-c-was-down") == "yes",
        message=lambda: f"c2 sees a as {c2.key_values(a.name)}",
    )
    wait_until(
        lambda: all(n.key_values(c.name) == {"life": "second"} for n in (a, b, c2)),
        message=lambda: str({n.name: n.key_values(c.name) for n in (a, b, c2)}),
    )
    wait_until(lambda: [r.payload for r in rumors] == [b"missed by c"])


def test_updates_on_both_sides_of_a_partition_survive_the_heal() -> None:
    """In the simulator: writes and broadcasts made on each side of a split
    reach everyone once the network heals."""
    config = rumor.Config.lan(push_pull_interval=2.0)
    sim = rumor.Simulation(10, config=config, seed=4, join="converged")
    heard: dict[str, list[bytes]] = {name: [] for name in sim.node_names}
    for name in sim.node_names:
        sim.node(name).on_rumor(lambda r, name=name: heard[name].append(r.payload))
    left = [f"n{i}" for i in range(5)]
    sim.partition([left])
    sim.node("n1").set("side", "left")
    sim.node("n8").set("side", "right")
    sim.node("n2").broadcast(b"from the left")
    sim.node("n7").broadcast(b"from the right")
    sim.run(5)
    assert sim.node("n9").get("n1", "side") is None, "the partition holds"
    sim.heal()

    def everywhere() -> bool:
        return all(
            sim.node(n).get("n1", "side") == "left"
            and sim.node(n).get("n8", "side") == "right"
            and sorted(heard[n]) == [b"from the left", b"from the right"]
            for n in sim.node_names
        )

    sim.run_until(lambda s: everywhere(), timeout=120)
    assert all(len(h) == 2 for h in heard.values()), "each rumor delivered once"


def test_simulated_nodes_get_rumors_and_updates_in_virtual_time() -> None:
    """on_rumor/on_update on a SimNode fire during run, with their content."""
    sim = rumor.Simulation(6, seed=2, join="converged")
    rumors: list[tuple[float, rumor.Rumor]] = []
    updates: list[tuple[str, str, rumor.news.Value | None]] = []
    n4 = sim.node("n4")
    n4.on_rumor(lambda r: rumors.append((sim.now, r)))
    n4.on_update(lambda m, k, v: updates.append((m, k, v)))
    seq = sim.node("n1").broadcast(b"hello")
    sim.node("n2").set("zone", "eu")
    sim.node("n2").set("zone", b"us")
    sim.run(3)
    assert [r for _, r in rumors] == [rumor.Rumor("n1", seq, b"hello")]
    assert 0 < rumors[0][0] < 1
    assert updates == [("n2", "zone", "eu"), ("n2", "zone", b"us")] or updates == [
        ("n2", "zone", b"us")
    ], "in order; the first may have been overtaken"
    assert n4.key_values("n2") == {"zone": b"us"}
    sim.node("n2").delete("zone")
    sim.run(3)
    assert updates[-1:] == [("n2", "zone", None)]
    assert [r.kind for r in sim.events(node="n4", kind="rumor")] == ["rumor"]


def test_a_burst_of_1000_broadcasts_on_8_nodes_reaches_every_node_promptly(
    cluster: Cluster,
) -> None:
    """1,000 broadcasts sent as fast as a loop can on 8 loopback nodes (the
    ``lan`` preset, whose periodic sync is 30 s away) all arrive everywhere,
    once, within 8 s: not left to that sync, as ~1 % of them were (15 to
    30 s late, no counter showing anything). On an idle machine this takes
    about 0.5 s (median; 2 to 4 s before the fix), once in a dozen runs
    3.6 s (a member that missed an item and was not picked by a drain
    sync waits for a quiet check); the target is 1 s, the deadline is for
    the slow path, so the test is not flaky."""
    nodes = cluster.start_joined(8, config=rumor.Config.lan())
    lock = threading.Lock()
    got: dict[str, set[tuple[str, int]]] = {node.name: set() for node in nodes}
    dups: list[tuple[str, str, int]] = []
    for node in nodes:

        def record(r: rumor.Rumor, name: str = node.name) -> None:
            with lock:
                if (r.origin, r.seq) in got[name]:
                    dups.append((name, r.origin, r.seq))
                got[name].add((r.origin, r.seq))

        node.on_rumor(record)
    sent = {(node.name, node.broadcast(f"r{i}".encode())) for i in range(125) for node in nodes}
    assert len(sent) == 1000

    def missing() -> dict[str, int]:
        with lock:
            return {name: len(sent - seen) for name, seen in got.items() if sent - seen}

    wait_until(lambda: not missing(), timeout=8.0, message=lambda: f"missing {missing()}")
    assert not dups
    assert all(node.stats()["pushes_evicted"] == 0 for node in nodes)
