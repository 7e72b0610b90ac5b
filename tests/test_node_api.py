"""The Python face of a node: identity, callbacks, members(), errors, lifecycle."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import errno
import re
import socket
import time
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


ERROR_BUILTINS: list[tuple[type[rumor.RumorError], type[Exception]]] = [
    (rumor.ArgumentError, ValueError),
    (rumor.ArgumentTypeError, TypeError),
    (rumor.ConfigError, ValueError),
    (rumor.ItemError, ValueError),
    (rumor.MetaTooLargeError, ValueError),
    (rumor.KeyringError, ValueError),
    (rumor.JoinError, ConnectionError),
    (rumor.TimeoutError, builtins.TimeoutError),
    (rumor.NodeClosedError, RuntimeError),
    (rumor.UsageError, RuntimeError),
    (rumor.BindError, OSError),
    (rumor.EntropyError, OSError),
]


def test_error_hierarchy_subclasses_builtins() -> None:
    """Every error is a RumorError and the built-in a caller would already catch."""
    for error, builtin in ERROR_BUILTINS:
        assert issubclass(error, rumor.RumorError), error
        assert issubclass(error, builtin), error
    for error in (rumor.ConfigError, rumor.ItemError, rumor.MetaTooLargeError):
        assert issubclass(error, rumor.ArgumentError), error


BAD_CALLS: list[tuple[str, Callable[[rumor.Node], object], type[rumor.RumorError], str]] = [
    (
        "key of the wrong type",
        lambda n: n.set(5, "x"),  # type: ignore[arg-type]
        rumor.ArgumentTypeError,
        "key must be a str, got int",
    ),
    (
        "value of the wrong type",
        lambda n: n.set("k", 5),  # type: ignore[arg-type]
        rumor.ArgumentTypeError,
        "value must be str, bytes, bytearray or memoryview, got int",
    ),
    (
        "empty key",
        lambda n: n.set("", "x"),
        rumor.ItemError,
        "key must be 1 to 256 bytes long, got 0",
    ),
    (
        "payload too big",
        lambda n: n.broadcast(bytes(n.max_broadcast_size + 1)),
        rumor.ItemError,
        "do not fit",
    ),
    (
        "payload a str",
        lambda n: n.broadcast("hi"),  # type: ignore[arg-type]
        rumor.ArgumentTypeError,
        "payload must be bytes, bytearray or memoryview, got str",
    ),
    (
        "meta too big",
        lambda n: n.set_meta(bytes(100_000)),
        rumor.MetaTooLargeError,
        "max_meta_size allows at most",
    ),
    (
        "member of the wrong type",
        lambda n: n.key_values(7),  # type: ignore[arg-type]
        rumor.ArgumentTypeError,
        "member must be a str, got int",
    ),
    (
        "seeds of the wrong type",
        lambda n: n.join(7),  # type: ignore[arg-type]
        rumor.ArgumentTypeError,
        "seeds must be a str or an iterable",
    ),
    (
        "no seed",
        lambda n: n.join([]),
        rumor.ArgumentError,
        "seeds must be at least one host:port, got none",
    ),
    (
        "bad state filter",
        lambda n: n.members(state="zombie"),
        rumor.ArgumentError,
        "state must be one of alive, suspect, dead, left, got 'zombie'",
    ),
    (
        "negative timeout",
        lambda n: n.leave(timeout=-1),
        rumor.ArgumentError,
        "timeout must be a number of seconds between 0 and 1e9, got -1",
    ),
    (
        "timeout a str",
        lambda n: n.join("127.0.0.1:1", timeout="soon"),  # type: ignore[arg-type]
        rumor.ArgumentTypeError,
        "timeout must be a number, got str",
    ),
    (
        "callback not callable",
        lambda n: n.on_join(42),  # type: ignore[type-var]
        rumor.ArgumentTypeError,
        "on_join expects a callable, got int",
    ),
    (
        "key not 32 bytes",
        lambda n: n.keyring.add(b"short"),
        rumor.ArgumentError,
        "key must be exactly 32 bytes, got 5 bytes",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [pytest.param(call, error, message, id=label) for label, call, error, message in BAD_CALLS],
)
def test_bad_arguments_raise_rumor_errors_naming_the_argument(
    node: rumor.Node,
    call: Callable[[rumor.Node], object],
    error: type[rumor.RumorError],
    message: str,
) -> None:
    """A bad argument raises the RumorError subclass for it (also the matching
    built-in), its message naming the argument; the node goes on working."""
    with pytest.raises(error, match=re.escape(message)):
        call(node)
    node.set("after", "still works")
    assert node.key_values(node.name) == {"after": "still works"}


def test_a_taken_port_is_a_bind_error_with_its_errno(node: rumor.Node) -> None:
    """Binding an address in use raises BindError, an OSError with errno set."""
    with pytest.raises(rumor.BindError) as info:
        rumor.Node(name="twin", bind=node.addr, config=fast_config())
    assert info.value.errno == errno.EADDRINUSE
    assert isinstance(info.value, OSError)


def test_time_arguments_are_checked_alike_live_and_simulated(node: rumor.Node) -> None:
    """Node and SimNode refuse a bad timeout with the same error and message."""
    sim_node = rumor.Simulation(2, seed=1).node("n1")
    for target, seed in ((node, "127.0.0.1:1"), (sim_node, "n0")):
        with pytest.raises(rumor.ArgumentError) as info:
            target.join(seed, timeout=-1)
        assert str(info.value) == "timeout must be a number of seconds between 0 and 1e9, got -1"
        with pytest.raises(rumor.ArgumentTypeError) as type_info:
            target.leave(timeout="soon")  # type: ignore[arg-type]
        assert str(type_info.value) == "timeout must be a number, got str"


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


BYTES_LIKE = [b"\x01\x02", bytearray(b"\x01\x02"), memoryview(b"\x00\x01\x02")[1:]]
NOT_BYTES = [42, [1, 2], "text", None, 1.5]


def _targets(node: rumor.Node) -> list[rumor.Node | rumor.SimNode]:
    return [node, rumor.Simulation(2, seed=1).node("n1")]


@pytest.mark.parametrize("data", BYTES_LIKE, ids=type)
def test_bytes_bytearray_and_memoryview_are_taken_everywhere(
    node: rumor.Node, data: bytes | bytearray | memoryview
) -> None:
    """broadcast, set and set_meta, live and simulated, and Node(meta=) take
    bytes, bytearray and memoryview alike, and keep them as bytes."""
    for target in _targets(node):
        target.broadcast(data)
        target.set("k", data)
        assert target.get(target.name, "k") == b"\x01\x02", target
        target.set_meta(data)
    with rumor.Node(bind=f"{LOCALHOST}:0", config=fast_config(), meta=data) as other:
        assert other.members()[0].meta == b"\x01\x02"


@pytest.mark.parametrize("data", NOT_BYTES, ids=repr)
def test_anything_else_is_a_type_error_naming_the_parameter(node: rumor.Node, data: object) -> None:
    """An int, list, None or float (and a str where text is not taken) is an
    ArgumentTypeError naming the parameter and the accepted types, live and
    simulated; nothing is coerced."""
    got = type(data).__name__
    bytes_only = f"must be bytes, bytearray or memoryview, got {got}"
    for target in _targets(node):
        with pytest.raises(rumor.ArgumentTypeError, match=re.escape(f"payload {bytes_only}")):
            target.broadcast(data)  # type: ignore[arg-type]
        with pytest.raises(rumor.ArgumentTypeError, match=re.escape(f"meta {bytes_only}")):
            target.set_meta(data)  # type: ignore[arg-type]
        if not isinstance(data, str):
            message = f"value must be str, bytes, bytearray or memoryview, got {got}"
            with pytest.raises(rumor.ArgumentTypeError, match=re.escape(message)):
                target.set("k", data)  # type: ignore[arg-type]
        assert target.key_values(target.name) == {}
    with pytest.raises(rumor.ArgumentTypeError, match=re.escape(f"meta {bytes_only}")):
        rumor.Node(bind=f"{LOCALHOST}:0", config=fast_config(), meta=data)  # type: ignore[arg-type]
    assert node.members()[0].meta == b""


def test_an_unresolvable_seed_does_not_stop_the_others(cluster: Cluster) -> None:
    """A seed whose host does not resolve is one failed seed among several:
    the join goes on through the others and succeeds when one answers."""
    a, b = cluster.start("a"), cluster.start("b")
    assert b.join(["nope.invalid:1", a.addr], timeout=10.0) == 1
    wait_for_views([a, b], all_alive([a, b]))


def test_a_failed_join_gives_each_seed_its_own_reason(node: rumor.Node) -> None:
    """When no seed answers, the JoinError lists every seed with its reason."""
    with silent_udp_port() as silent:
        quiet = f"{LOCALHOST}:{silent.getsockname()[1]}"
        with pytest.raises(rumor.JoinError) as info:
            node.join(["nope.invalid:1", quiet, node.addr], timeout=0.3)
    assert str(info.value) == (
        f"no seed answered: nope.invalid:1 (does not resolve), {quiet} (no answer within 0.3 s), "
        f"{node.addr} (this node's own address)"
    )


def test_joining_only_itself_says_so_at_once(node: rumor.Node) -> None:
    """A node given only its own address fails at once, saying so, live and
    simulated, sync and async."""
    message = f"no seed to join through: {node.addr} (this node's own address)"
    deadline = time.monotonic() + 5.0
    with pytest.raises(rumor.JoinError) as info:
        node.join(node.addr, timeout=30.0)
    assert str(info.value) == message
    with pytest.raises(rumor.JoinError) as info:
        asyncio.run(node.join_async([node.addr], timeout=30.0))
    assert str(info.value) == message
    assert time.monotonic() < deadline, "without waiting for the 30 s timeout"
    sim_node = rumor.Simulation(2, seed=1, join=False).node("n1")
    for itself in ("n1", sim_node.addr):
        with pytest.raises(rumor.JoinError) as info:
            sim_node.join(itself, timeout=30.0)
        assert str(info.value) == f"no seed to join through for n1: {itself} (this node itself)"
    assert sim_node.sim.now == 0.0


def test_join_async_goes_on_past_an_unresolvable_seed(cluster: Cluster) -> None:
    """join_async skips an unresolvable seed as join does."""
    a, b = cluster.start("a"), cluster.start("b")
    assert asyncio.run(b.join_async(["nope.invalid:1", a.addr], timeout=10.0)) == 1
    wait_for_views([a, b], all_alive([a, b]))
