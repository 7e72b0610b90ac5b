"""Encrypted, authenticated gossip on real loopback sockets."""

from __future__ import annotations

import secrets

import pytest
import rumor
from support import (
    Cluster,
    all_alive,
    fast_config,
    wait_for_views,
    wait_probe_rounds,
    wait_until,
)

K1 = secrets.token_bytes(32)
K2 = secrets.token_bytes(32)


def sealed(keys: list[bytes], label: str = "prod") -> rumor.Config:
    base = fast_config()
    return rumor.Config.local(
        probe_interval=base.probe_interval,
        probe_timeout=base.probe_timeout,
        gossip_interval=base.gossip_interval,
        keys=keys,
        label=label,
    )


def test_keys_must_be_32_bytes_and_distinct() -> None:
    """A bad key is a ConfigError naming ``keys``; the config never shows keys."""
    with pytest.raises(rumor.ConfigError, match="keys"):
        rumor.Config(keys=[b"short"])
    with pytest.raises(rumor.ConfigError, match="keys"):
        rumor.Config(keys=[K1, K1])
    with pytest.raises(TypeError):
        rumor.Config(keys=K1)  # type: ignore[arg-type]
    with pytest.raises(rumor.ConfigError, match="label"):
        rumor.Config(keys=[K1], label="x" * 129)
    with pytest.raises(rumor.ConfigError, match="label"):
        rumor.Config(label="prod")  # a label means nothing without keys
    with pytest.raises(rumor.ConfigError, match="keys"):
        rumor.Config(keys=[bytes(32)])
    with pytest.raises(TypeError):
        rumor.Config(keys=[list(range(32))])  # type: ignore[list-item]
    config = rumor.Config(keys=[K1, K2], label="prod")
    assert config.encrypted and config.label == "prod"
    assert K1.hex() not in repr(config) and "2 keys" in repr(config)
    assert not rumor.Config().encrypted


def test_outsiders_cannot_join_a_sealed_cluster(cluster: Cluster) -> None:
    """Nodes with another key, another label or no key are refused; the
    cluster's counters say why, and it keeps working."""
    nodes = cluster.start_joined(3, config=sealed([K1]))
    outsiders = {
        "wrong-key": sealed([K2]),
        "wrong-label": sealed([K1], label="staging"),
        "plain": fast_config(),
    }
    for name, config in outsiders.items():
        outsider = cluster.start(name, config)
        with pytest.raises(rumor.JoinError):
            outsider.join(nodes[0].addr, timeout=1.0)
        assert [m.name for m in outsider.members()] == [name]
    seed = nodes[0].stats()
    assert seed["dropped_unauthenticated"] >= 2
    assert seed["dropped_unencrypted"] >= 1
    for node in nodes:
        assert {m.name for m in node.members()} == {n.name for n in nodes}
    heard: dict[str, list[bytes]] = {node.name: [] for node in nodes}
    for node in nodes:
        node.on_rumor(lambda r, name=node.name: heard[name].append(r.payload))
    nodes[0].broadcast(b"still here")
    wait_until(
        lambda: all(heard[n.name] == [b"still here"] for n in nodes),
        message=lambda: f"broadcast not delivered inside the sealed cluster: {heard}",
    )


def test_keys_rotate_at_runtime_without_downtime(cluster: Cluster) -> None:
    """add everywhere, use everywhere, remove everywhere: nobody is suspected,
    and afterwards only the new key gets in."""
    nodes = cluster.start_joined(4, config=sealed([K1]))
    for node in nodes:
        node.keyring.add(K2)
    assert all(node.keyring.keys == [K1, K2] for node in nodes)
    # Between phases, let datagrams sealed the old way arrive and the mixed
    # keyrings run for a while: a few probes by everyone.
    wait_probe_rounds(nodes, 3)
    for node in nodes:
        node.keyring.use(K2)
    wait_probe_rounds(nodes, 3)
    for node in nodes:
        with pytest.raises(rumor.KeyringError):
            node.keyring.remove(K2)  # the primary
        node.keyring.remove(K1)
    assert all(node.keyring.keys == [K2] and node.keyring.primary == K2 for node in nodes)
    late = cluster.start("late", sealed([K2]))
    late.join(nodes[0].addr, timeout=10.0)
    wait_for_views([*nodes, late], all_alive([*nodes, late]))
    stale = cluster.start("stale", sealed([K1]))
    with pytest.raises(rumor.JoinError):
        stale.join(nodes[0].addr, timeout=1.0)
    for node in nodes:
        log = cluster.logs[node.name]
        assert log.events("suspect") == [] and log.events("fail") == [], node.name
    with pytest.raises(ValueError, match="32 bytes"):
        nodes[0].keyring.add(b"too short")
    with pytest.raises(TypeError):
        nodes[0].keyring.add(32)  # type: ignore[arg-type]
    with pytest.raises(rumor.KeyringError):
        nodes[0].keyring.add(bytes(32))
    late.close()
    assert "closed" in repr(late.keyring)
    plain = cluster.start("plain", fast_config())
    with pytest.raises(rumor.KeyringError):
        plain.keyring.add(K1)
    assert plain.keyring.keys == [] and plain.keyring.primary is None
