"""Bind, advertise and seeds on real loopback sockets (issue 17): the
advertised address is what the others use, an unspecified bind advertises
a routable address, IPv6 on [::1] works end to end, seed names are
resolved at every attempt, and a cluster whose members all restarted
heals by itself (``rejoin_interval``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import rumor
from agents import Agent
from support import LOCALHOST, fast_config, silent_udp_port, wait_until


@pytest.fixture
def nodes() -> Iterator[list[rumor.Node]]:
    """Nodes the test starts; every one is closed at the end."""
    started: list[rumor.Node] = []
    yield started
    for node in started:
        node.close()


def _alive(node: rumor.Node) -> dict[str, str]:
    """Name to address of the members ``node`` sees alive."""
    return {m.name: m.addr for m in node.members(state=rumor.MemberState.ALIVE)}


def _free_port() -> int:
    """A port free for UDP and TCP on 127.0.0.1 just now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind((LOCALHOST, 0))
        port: int = tcp.getsockname()[1]
    return port


def test_others_reach_a_node_at_its_advertised_address(nodes: list[rumor.Node]) -> None:
    """A node bound on every interface and advertising 127.0.0.2 is listed
    there by the others, who probe it there: it stays alive for them."""
    a = rumor.Node("a", bind=f"{LOCALHOST}:0", config=fast_config())
    nodes.append(a)
    b = rumor.Node("b", bind="0.0.0.0:0", config=fast_config(), advertise="127.0.0.2")
    nodes.append(b)
    port = b.addr.rpartition(":")[2]
    assert b.addr == f"127.0.0.2:{port}", "the port defaults to the bound one"
    b.join(a.addr, timeout=5.0)
    c = rumor.Node("c", bind=f"{LOCALHOST}:0", config=fast_config())
    nodes.append(c)
    c.join(a.addr, timeout=5.0)
    wait_until(lambda: all(len(_alive(n)) == 3 for n in nodes), message=lambda: str(_alive(c)))
    assert _alive(a)["b"] == _alive(c)["b"] == b.addr
    probes = a.stats()["probes"] + c.stats()["probes"]
    wait_until(lambda: a.stats()["probes"] + c.stats()["probes"] >= probes + 10)
    assert _alive(a)["b"] == _alive(c)["b"] == b.addr, "probed there, still alive"


def test_agent_advertise_is_its_address_for_the_others(
    agents: list[Agent], nodes: list[rumor.Node]
) -> None:
    """``rumor agent --bind 0.0.0.0:0 --advertise 127.0.0.1`` reports and
    is reached at 127.0.0.1 with its bound port."""
    a = Agent("--bind", "0.0.0.0:0", "--advertise", LOCALHOST, "--name", "a")
    agents.append(a)
    addr = a.started["addr"]
    assert addr.startswith(f"{LOCALHOST}:") and not addr.endswith(":0")
    n = rumor.Node("n", bind=f"{LOCALHOST}:0", config=fast_config())
    nodes.append(n)
    n.join(addr, timeout=5.0)
    wait_until(lambda: _alive(n).get("a") == addr)


def test_advertise_with_a_port_and_a_bad_advertise() -> None:
    """``host:port`` is taken as given; an unspecified or unresolvable
    advertise is an ArgumentError naming it."""
    with rumor.Node("x", bind=f"{LOCALHOST}:0", config=fast_config(), advertise="127.0.0.1:7") as n:
        assert n.addr == "127.0.0.1:7"
    with pytest.raises(rumor.ArgumentError, match="advertise"):
        rumor.Node("y", bind=f"{LOCALHOST}:0", config=fast_config(), advertise="0.0.0.0")
    with pytest.raises(rumor.ArgumentError, match="advertise"):
        rumor.Node("z", bind=f"{LOCALHOST}:0", config=fast_config(), advertise="nope.invalid")


def _routable_ipv4() -> str | None:
    """The source address for a public destination, as the node finds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.41.0.4", 53))  # UDP: nothing is sent
        except OSError:
            return None
        ip: str = probe.getsockname()[0]
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def test_unspecified_bind_advertises_a_routable_address_or_says_it_has_none() -> None:
    """Bound on 0.0.0.0 without ``advertise``, a node advertises the host's
    routable address (never 0.0.0.0), or refuses to start, naming
    ``advertise``."""
    expected = _routable_ipv4()
    if expected is None:
        with pytest.raises(rumor.ArgumentError, match="advertise"):
            rumor.Node("x", bind="0.0.0.0:0", config=fast_config())
        return
    with rumor.Node(bind="0.0.0.0:0", config=fast_config()) as n:
        host, _, port = n.addr.rpartition(":")
        assert host == expected and int(port) > 0
        assert n.name == n.addr, "the default name is the advertised address"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this kernel has no IPv6 loopback")
def test_ipv6_cluster_on_loopback_joins_broadcasts_and_detects_a_crash(
    nodes: list[rumor.Node],
) -> None:
    """Three nodes on [::1]: they join, a broadcast reaches everyone, and a
    closed node is declared failed by the others."""
    for name in ("a", "b", "c"):
        nodes.append(rumor.Node(name, bind="[::1]:0", config=fast_config()))
    a, b, c = nodes
    assert a.addr.startswith("[::1]:")
    got: dict[str, list[bytes]] = {"a": [], "b": [], "c": []}
    for n in nodes:
        n.on_rumor(lambda r, name=n.name: got[name].append(r.payload))
    b.join(a.addr, timeout=5.0)
    c.join(b.addr, timeout=5.0)
    wait_until(lambda: all(len(_alive(n)) == 3 for n in nodes))
    assert _alive(c)["b"] == b.addr
    b.broadcast(b"over six")
    wait_until(lambda: all(got[k] == [b"over six"] for k in got), message=lambda: str(got))
    c.close()
    failed = [m.name for n in (a, b) for m in n.members(state=rumor.MemberState.DEAD)]
    wait_until(
        lambda: all(
            any(m.name == "c" for m in n.members(state=rumor.MemberState.DEAD)) for n in (a, b)
        ),
        message=lambda: str(failed),
    )


def test_join_succeeds_when_any_of_several_seeds_answers(nodes: list[rumor.Node]) -> None:
    """The first seed is dead, the second does not resolve, the third answers."""
    silent = silent_udp_port()
    try:
        a = rumor.Node("a", bind=f"{LOCALHOST}:0", config=fast_config())
        nodes.append(a)
        b = rumor.Node("b", bind=f"{LOCALHOST}:0", config=fast_config())
        nodes.append(b)
        dead = f"{LOCALHOST}:{silent.getsockname()[1]}"
        assert b.join([dead, "nope.invalid:7946", a.addr], timeout=5.0) == 1
        wait_until(lambda: "b" in _alive(a))
    finally:
        silent.close()


def test_dns_name_seed_not_there_yet_is_joined_once_it_starts(nodes: list[rumor.Node]) -> None:
    """The join through ``localhost:PORT`` starts before anything listens
    there; the seed starts a moment later and the join still succeeds."""
    port = _free_port()
    b = rumor.Node("b", bind=f"{LOCALHOST}:0", config=fast_config())
    nodes.append(b)
    outcome: list[object] = []
    joiner = threading.Thread(
        target=lambda: outcome.append(_join(b, f"localhost:{port}", 10.0)), daemon=True
    )
    joiner.start()
    wait_until(lambda: b.stats()["packets_sent"] > 0, message="no Meet sent")
    a = rumor.Node("a", bind=f"{LOCALHOST}:{port}", config=fast_config())
    nodes.append(a)
    joiner.join(timeout=15.0)
    assert outcome == [1]
    wait_until(lambda: "b" in _alive(a))


def _join(node: rumor.Node, seed: str, timeout: float) -> object:
    try:
        return node.join(seed, timeout=timeout)
    except rumor.JoinError as e:
        return e


def test_cluster_whose_members_all_restarted_heals_without_join(nodes: list[rumor.Node]) -> None:
    """Every member restarts, the seed last: the others' joins at start fail
    (the seed is down), yet within ``rejoin_interval`` of the seed's return
    they rejoin it by themselves, and everyone sees everyone."""
    config = rumor.Config.local(
        probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05, rejoin_interval=1.0
    )
    port = _free_port()
    seed = f"localhost:{port}"
    first = [rumor.Node("s", bind=f"{LOCALHOST}:{port}", config=config)]
    for name in ("b", "c"):
        n = rumor.Node(name, bind=f"{LOCALHOST}:0", config=config)
        first.append(n)
        n.join(seed, timeout=5.0)
    wait_until(lambda: all(len(_alive(n)) == 3 for n in first))
    for n in first:
        n.close()
    for name in ("b", "c"):
        n = rumor.Node(name, bind=f"{LOCALHOST}:0", config=config)
        nodes.append(n)
        with pytest.raises(rumor.JoinError):
            n.join(seed, timeout=0.5)
    nodes.append(rumor.Node("s", bind=f"{LOCALHOST}:{port}", config=config))
    wait_until(
        lambda: all(len(_alive(n)) == 3 for n in nodes),
        timeout=15.0,
        message=lambda: str({n.name: sorted(_alive(n)) for n in nodes}),
    )
    assert sum(n.stats()["rejoins"] for n in nodes) >= 1
