"""The Python face of a node: identity, callbacks, members(), errors, lifecycle."""

from __future__ import annotations

import builtins
import dataclasses
import socket
from collections.abc import Callable

import pytest
import rumor
from support import (
    DROP_KEYS,
    LOCALHOST,
    Cluster,
    all_alive,
    fast_config,
    silent_udp_port,
    wait_for_views,
)

STATS_KEYS = {"packets_sent", "packets_received", "bytes_sent", "bytes_received", *DROP_KEYS}


def test_package_exports() -> None:
    """The public names are importable from the package root."""
    for name in rumor.__all__:
        assert hasattr(rumor, name), name
    assert isinstance(rumor.__version__, str) and rumor.__version__


def test_error_hierarchy_subclasses_builtins() -> None:
    """Every error is a RumorError and the built-in a caller would already catch."""
    assert issubclass(rumor.ConfigError, ValueError)
    assert issubclass(rumor.JoinError, ConnectionError)
    assert issubclass(rumor.TimeoutError, builtins.TimeoutError)
    assert issubclass(rumor.NodeClosedError, RuntimeError)
    for error in (rumor.ConfigError, rumor.JoinError, rumor.TimeoutError, rumor.NodeClosedError):
        assert issubclass(error, rumor.RumorError)


def test_member_is_a_frozen_dataclass_with_a_str_enum_state() -> None:
    """Member is an immutable snapshot; MemberState compares equal to its string."""
    member = rumor.Member("a", "127.0.0.1:1", rumor.MemberState.ALIVE, 3)
    assert dataclasses.is_dataclass(member)
    assert member.meta == b""
    with pytest.raises(dataclasses.FrozenInstanceError):
        member.state = rumor.MemberState.DEAD  # type: ignore[misc]
    assert member == rumor.Member("a", "127.0.0.1:1", rumor.MemberState.ALIVE, 3, b"")
    assert hash(member) == hash(rumor.Member("a", "127.0.0.1:1", rumor.MemberState.ALIVE, 3))

    assert issubclass(rumor.MemberState, str)
    assert rumor.MemberState("dead") is rumor.MemberState.DEAD
    alive: str = rumor.MemberState.ALIVE
    assert alive == "alive"
    assert str(rumor.MemberState.LEFT) == "left"
    assert f"{rumor.MemberState.SUSPECT}" == "suspect"
    assert [s.value for s in rumor.MemberState] == ["alive", "suspect", "dead", "left"]


def test_node_reports_its_real_address_and_lists_itself(node: rumor.Node) -> None:
    """A node bound to port 0 reports the real port, and members() lists itself alive."""
    host, port = node.addr.rsplit(":", 1)
    assert host == LOCALHOST
    assert int(port) > 0
    assert node.name == "solo"
    assert not node.closed
    assert node.name in repr(node) and node.addr in repr(node)
    (me,) = node.members()
    assert me.name == node.name
    assert me.addr == node.addr
    assert me.state is rumor.MemberState.ALIVE


def test_default_name_is_the_bound_address() -> None:
    """Without a name, a node is named after its host:port."""
    node = rumor.Node(bind=f"{LOCALHOST}:0", config=fast_config())
    try:
        assert node.name == node.addr
    finally:
        node.close()


def test_stats_are_integer_counters(node: rumor.Node) -> None:
    """stats() returns int counters, including every drop reason."""
    stats = node.stats()
    assert STATS_KEYS <= set(stats), sorted(STATS_KEYS - set(stats))
    assert all(isinstance(v, int) and v >= 0 for v in stats.values())


@pytest.mark.parametrize("kind", ["on_join", "on_leave", "on_fail", "on_suspect", "on_alive"])
def test_callback_registration_returns_the_function(node: rumor.Node, kind: str) -> None:
    """Each on_* method returns its argument, so it works as a decorator."""
    register: Callable[[Callable[[rumor.Member], None]], Callable[[rumor.Member], None]] = getattr(
        node, kind
    )

    def callback(member: rumor.Member) -> None:
        del member

    assert register(callback) is callback


def test_on_join_decorator_keeps_the_function(node: rumor.Node) -> None:
    """@node.on_join leaves the decorated name bound to the function itself."""

    @node.on_join
    def joined(member: rumor.Member) -> None:
        del member

    assert callable(joined)
    assert joined.__name__ == "joined"


def test_registering_a_non_callable_is_a_type_error(node: rumor.Node) -> None:
    """on_join(42) fails at once instead of failing on the first event."""
    with pytest.raises(TypeError):
        node.on_join(42)  # type: ignore[type-var]


def test_members_filters_by_state(cluster: Cluster) -> None:
    """members(state=...) keeps only members in that state; members() lists all in name order."""
    nodes = cluster.start_joined(4)
    victim = nodes[1]
    survivors = [n for n in nodes if n is not victim]
    victim.close()
    wait_for_views(survivors, {victim.name: "dead", **all_alive(survivors)})

    for node in survivors:
        everyone = node.members()
        assert [m.name for m in everyone] == sorted(n.name for n in nodes)
        assert all(isinstance(m, rumor.Member) for m in everyone)
        assert [m.name for m in node.members(state="dead")] == [victim.name]
        alive = node.members(state=rumor.MemberState.ALIVE)
        assert [m.name for m in alive] == sorted(n.name for n in survivors)
        assert node.members(state="left") == []
    with pytest.raises(ValueError):
        survivors[0].members(state="zombie")


@pytest.mark.parametrize("seed_kind", ["silent", "closed"])
def test_join_with_no_answering_seed_raises_join_error(node: rumor.Node, seed_kind: str) -> None:
    """A join no seed answers raises JoinError, which is a ConnectionError."""
    with silent_udp_port() as silent:
        port = silent.getsockname()[1]
        if seed_kind == "closed":
            silent.close()
        with pytest.raises(rumor.JoinError) as info:
            node.join(f"{LOCALHOST}:{port}", timeout=0.5)
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value, rumor.RumorError)
    # The failed join leaves the node usable.
    assert [m.name for m in node.members()] == [node.name]


def test_join_then_succeeds_through_a_real_seed(cluster: Cluster) -> None:
    """After a failed join, the same node can join a real seed."""
    a, b = cluster.start("a"), cluster.start("b")
    with silent_udp_port() as silent:
        with pytest.raises(rumor.JoinError):
            b.join(f"{LOCALHOST}:{silent.getsockname()[1]}", timeout=0.3)
    assert b.join([a.addr]) >= 1
    wait_for_views([a, b], all_alive([a, b]))


@pytest.mark.parametrize("seed", ["not-an-address", "127.0.0.1", "127.0.0.1:99999", ""])
def test_join_with_an_unparsable_seed_is_a_value_error(node: rumor.Node, seed: str) -> None:
    """A seed that is not host:port raises ValueError before anything is sent."""
    with pytest.raises(ValueError):
        node.join(seed, timeout=0.5)


def test_unspecified_bind_address_is_refused() -> None:
    """Binding 0.0.0.0 is refused: other members could not reach that address."""
    with pytest.raises(ValueError):
        rumor.Node(name="x", bind="0.0.0.0:0", config=fast_config())


def test_oversized_meta_is_a_value_error() -> None:
    """Metadata longer than max_meta_size is refused when the node is created."""
    config = fast_config()
    with pytest.raises(ValueError):
        meta = b"m" * (config.max_meta_size + 1)
        rumor.Node(name="x", bind=f"{LOCALHOST}:0", config=config, meta=meta)


def test_closed_node_refuses_commands_and_close_is_idempotent(node: rumor.Node) -> None:
    """After close(), join raises NodeClosedError, and close() again is harmless."""
    node.close()
    assert node.closed
    node.close()
    assert "closed" in repr(node)
    with pytest.raises(rumor.NodeClosedError):
        node.join(f"{LOCALHOST}:9", timeout=0.2)


def test_port_is_released_on_close() -> None:
    """Closing a node frees its UDP port for another socket."""
    node = rumor.Node(name="p", bind=f"{LOCALHOST}:0", config=fast_config())
    port = int(node.addr.rsplit(":", 1)[1])
    node.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCALHOST, port))


def test_context_manager_leaves_gracefully(cluster: Cluster) -> None:
    """Leaving a `with Node(...)` block leaves the cluster (state "left") and closes the node."""
    (seed,) = cluster.start_joined(1)
    with rumor.Node(name="ctx", bind=f"{LOCALHOST}:0", config=fast_config()) as member:
        member.join(seed.addr)
        wait_for_views([seed], {"ctx": "alive"})
    assert member.closed
    wait_for_views([seed], {"ctx": "left"})
    assert cluster.logs[seed.name].count("fail", "ctx") == 0
