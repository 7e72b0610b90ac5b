"""Hostile datagrams at a live node: each is dropped and counted, and the node goes on."""

from __future__ import annotations

import random
import resource
import socket
import time

import rumor
from support import (
    DROP_KEYS,
    LOCALHOST,
    Cluster,
    all_alive,
    flood,
    wait_for_views,
    wait_until,
)

HEADER = b"Rm\x01\x00"
"""Magic and protocol version 1 with no flags: the start of a real datagram."""

U64_MAX = b"\xff" * 9 + b"\x01"
"""u64::MAX as a postcard varint."""


def garbage(target: str) -> dict[str, list[bytes]]:
    """Datagrams grouped by the drop counter each must land in (seeded, so reproducible);
    the well-formed forgeries accuse ``target``."""
    rng = random.Random(20240611)

    name = bytes([len(target)]) + target.encode()

    def noise(n: int) -> bytes:
        return bytes(rng.randrange(256) for _ in range(n))

    return {
        # Anything not starting with b"Rm" is someone else's traffic.
        "dropped_bad_magic": [b"\x00" + noise(rng.randrange(5, 300)) for _ in range(20)]
        + [b"GET / HTTP/1.1\r\n\r\n", b"Rx\x01\x00\x01\x00\x00"],
        # Shorter than the 6-byte envelope, empty included.
        "dropped_truncated": [b"", b"", b"R", b"Rm", b"Rm\x01", HEADER, HEADER + b"\x01"],
        # A real-looking header, then a body that does not decode.
        "dropped_malformed": [
            HEADER + b"\x00\x00",  # zero messages
            HEADER + b"\x01\x00",  # one message announced, none there
            HEADER + b"\x01\x00" + b"\xff" * 12,  # varint that never ends
            HEADER + b"\x03\x00" + b"\x00",  # three announced, body cut short
            *[HEADER + b"\x01\x00" + b"\xff" + noise(rng.randrange(1, 200)) for _ in range(5)],
        ],
        # Another protocol version, or flags this build does not know.
        "dropped_unknown_version": [
            b"Rm\x02\x00\x01\x00" + b"\x00" * 10,
            b"Rm\xff\x00\x01\x00",
            b"Rm\x01\x80\x01\x00\x00",
        ],
        # Sealed (encrypted), and this node holds no keys.
        "dropped_unauthenticated": [b"Rm\x01\x01" + noise(60)],
        # Well-formed messages outside the protocol's limits: an accusation
        # at incarnation u64::MAX (it could never be refuted), names of 200
        # bytes or none at all.
        "dropped_out_of_limits": [
            HEADER + b"\x01\x00" + b"\x07" + name + U64_MAX + b"\x01m",  # Suspect target
            HEADER + b"\x01\x00" + b"\x08" + name + U64_MAX + b"\x01m",  # Dead target
            HEADER + b"\x01\x00" + b"\x09" + b"\xc8\x01" + b"x" * 200 + b"\x01",  # Left
            HEADER + b"\x01\x00" + b"\x09" + b"\x00" + b"\x01",  # Left, empty name
        ],
    }


def drops(stats: dict[str, int]) -> dict[str, int]:
    return {key: stats[key] for key in DROP_KEYS}


def test_garbage_datagrams_are_counted_and_the_node_keeps_working(cluster: Cluster) -> None:
    """Random, empty, truncated, malformed, foreign-version and out-of-limits datagrams are
    each counted by reason, and a new node can still join the target afterwards."""
    a, b = cluster.start_joined(2)
    incarnation = {m.name: m.incarnation for m in a.members()}
    before = drops(a.stats())
    assert set(DROP_KEYS) <= set(a.stats()), "stats() lacks drop counters"
    batches = garbage(a.name)
    host, port = a.addr.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCALHOST, 0))
        for batch in batches.values():
            for datagram in batch:
                sock.sendto(datagram, (host, int(port)))

    sent = sum(len(batch) for batch in batches.values())
    expected = {key: before[key] + len(batch) for key, batch in batches.items()}
    expected["dropped_total"] = before["dropped_total"] + sent
    expected["dropped_oversized"] = before["dropped_oversized"]  # UDP cannot carry one
    expected["dropped_unencrypted"] = before["dropped_unencrypted"]  # it holds no keys

    def delta() -> dict[str, int]:
        now = drops(a.stats())
        return {key: now[key] - before[key] for key in DROP_KEYS}

    wait_until(
        lambda: a.stats()["dropped_total"] >= expected["dropped_total"],
        message=lambda: f"sent {sent} bad datagrams, counted {delta()}",
    )
    assert drops(a.stats()) == expected, f"counted {delta()} after sending {sent}"
    assert {m.name: m.incarnation for m in a.members()} == incarnation, "a forged claim took hold"

    wait_for_views([a, b], all_alive([a, b]))
    c = cluster.start("late")
    c.join(a.addr, timeout=10.0)
    wait_for_views([a, b, c], all_alive([a, b, c]))
    assert drops(b.stats())["dropped_total"] == 0, "a healthy peer's traffic was dropped"
    assert drops(c.stats())["dropped_total"] == 0, "a healthy peer's traffic was dropped"


def test_a_flood_of_junk_and_replays_does_not_stop_a_node(cluster: Cluster) -> None:
    """For 3 s a node takes random, truncated, 64 KiB and replayed datagrams as
    fast as one Python thread sends them; its peers never suspect it, it counts
    what it dropped, and its memory does not grow with the flood."""
    config = rumor.Config.lan(probe_interval=0.5, probe_timeout=0.25, gossip_interval=0.1)
    nodes = cluster.start_joined(3, config=config)
    target = nodes[0]
    before = target.stats()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    sent = flood(target.addr, target.name, 3.0)
    elapsed = time.monotonic() - start
    wait_until(
        lambda: target.stats()["dropped_total"] > before["dropped_total"] + sent // 4,
        message=lambda: f"sent {sent}, dropped only {target.stats()['dropped_total']}",
    )
    after = target.stats()
    # One datagram in 69 is the replayed Ping: each read one is answered.
    replays = after["received_ping"] - before["received_ping"]
    junk = after["dropped_total"] - before["dropped_total"]
    assert replays > junk // 69 // 4, f"{replays} replays read next to {junk} junk datagrams"
    assert after["dropped_bad_magic"] > before["dropped_bad_magic"]
    assert after["dropped_truncated"] > before["dropped_truncated"]
    assert after["dropped_malformed"] > before["dropped_malformed"]
    for peer in nodes[1:]:
        log = cluster.logs[peer.name]
        assert log.count("suspect", target.name) == 0, f"{peer.name} suspected it"
    wait_for_views(nodes, all_alive(nodes))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 64 * 1024, f"peak memory grew by {grown_kib} KiB during the flood"
    assert sent / elapsed > 1000, "the flood was too slow to mean anything"
