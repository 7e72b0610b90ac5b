"""Names are identities, on real loopback sockets: a second process under a
live member's name is refused with NameConflictError naming the holder's
address, and a member started again on a new port is reported restarted."""

from __future__ import annotations

import threading

import pytest
import rumor
from support import DEADLINE, LOCALHOST, Cluster, fast_config, wait_probe_rounds, wait_until


def _held(observer: rumor.Node, name: str) -> tuple[str, rumor.MemberState, int] | None:
    for m in observer.members():
        if m.name == name:
            return (m.addr, m.state, m.incarnation)
    return None


@pytest.mark.parametrize("through_holder", [False, True])
def test_a_second_process_under_a_live_name_gets_name_conflict_error(
    cluster: Cluster, through_holder: bool
) -> None:
    """Joining under a live member's name raises NameConflictError (a
    JoinError) naming the holder's address, through any seed or the holder
    itself; the holder keeps its address, state and incarnation everywhere."""
    nodes = cluster.start_joined(3)
    holder = nodes[1]
    before = [_held(o, holder.name) for o in (nodes[0], nodes[2])]
    impostor = rumor.Node(name=holder.name, bind=f"{LOCALHOST}:0", config=fast_config())
    try:
        seed = holder.addr if through_holder else nodes[0].addr
        with pytest.raises(rumor.NameConflictError, match=holder.addr) as raised:
            impostor.join(seed, timeout=DEADLINE)
        assert isinstance(raised.value, rumor.JoinError)
        wait_probe_rounds(nodes, 3)
        assert [_held(o, holder.name) for o in (nodes[0], nodes[2])] == before
        assert holder.stats()["refutations"] == 0, "nothing to refute"
        assert impostor.stats()["joins_conflicted"] == 1
    finally:
        impostor.close()


def test_a_member_restarted_on_a_new_port_is_reported_restarted(cluster: Cluster) -> None:
    """A member closed and started again under its name on a new port is
    accepted there, and the others report on_restart with both addresses,
    and a Restarted event, rather than a join."""
    nodes = cluster.start_joined(3)
    seen: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def restarted(member: rumor.Member, previous: str) -> None:
        with lock:
            seen.append((member.name, member.addr, previous))

    nodes[0].on_restart(restarted)
    old = nodes[2]
    name, old_addr = old.name, old.addr
    old.close()
    new = rumor.Node(name=name, bind=f"{LOCALHOST}:0", config=fast_config())
    try:
        assert new.addr != old_addr
        new.join(nodes[0].addr, timeout=DEADLINE)

        def reported() -> bool:
            with lock:
                return (name, new.addr, old_addr) in seen

        wait_until(reported, message=lambda: f"on_restart not reported: {seen}")
        wait_until(
            lambda: all(
                (h := _held(o, name)) is not None and h[:2] == (new.addr, rumor.MemberState.ALIVE)
                for o in nodes[:2]
            ),
            message="the new address is not held alive everywhere",
        )
    finally:
        new.close()
