"""The ``rumor`` logger: membership at INFO, detail at DEBUG, trouble at WARNING."""

from __future__ import annotations

import logging
import socket

import pytest
import rumor
import rumor.node
from support import LOCALHOST, Cluster, wait_until


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rumor" and r.levelno == level]


def quiet_ports() -> rumor.Config:
    """The fast test config with closed ports taken for silence."""
    return rumor.Config.local(
        probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05, closed_port_evidence=False
    )


def test_joins_and_failures_at_info_detail_at_debug(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rumor")
    # Without closed-port evidence, so the failure goes through a suspicion
    # (logged at debug) instead of being decided at the first probe.
    a, b, c = cluster.start_joined(3, config=quiet_ports())
    wait_until(
        lambda: any(f"{a.name}: {b.name} joined" in m for m in messages(caplog, logging.INFO)),
        message=lambda: f"no join logged: {messages(caplog, logging.INFO)}",
    )
    c.close()
    wait_until(
        lambda: any(f"{a.name}: {c.name} failed" in m for m in messages(caplog, logging.INFO)),
        message=lambda: f"no failure logged: {messages(caplog, logging.INFO)}",
    )
    assert any(f"{c.name} suspected" in m for m in messages(caplog, logging.DEBUG))


def test_dropped_datagrams_are_a_rate_limited_warning(
    cluster: Cluster, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rumor.node, "DROP_LOG_INTERVAL", 0.3)
    caplog.set_level(logging.WARNING, logger="rumor")
    (a,) = cluster.start_joined(1)
    host, port = a.addr.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCALHOST, 0))
        for _ in range(50):
            sock.sendto(b"not rumor", (host, int(port)))

    def warned() -> list[str]:
        return [m for m in messages(caplog, logging.WARNING) if "dropped_bad_magic=" in m]

    def counted() -> int:
        return sum(int(m.split("dropped_bad_magic=")[1].split(",")[0]) for m in warned())

    wait_until(lambda: counted() == 50, message=lambda: f"warnings so far: {warned()}")
    # One warning per interval that saw drops, not one per datagram.
    assert 1 <= len(warned()) < 10, warned()
    assert all(m.startswith(f"{a.name}: trouble") for m in warned())
