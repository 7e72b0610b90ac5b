"""stats() gauges and the Prometheus text exposition."""

from __future__ import annotations

import re

import rumor
from rumor.metrics import ProbeRtt, prometheus_text
from support import Cluster, fast_config, wait_probe_rounds

SAMPLE = re.compile(
    r'^(?P<name>rumor_[a-z_]+)(?P<labels>\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\})? '
    r"(?P<value>-?[0-9.e+-]+|\+Inf)$"
)


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, str, float]]]:
    """``(types by family, samples as (name, labels, value))``; fails on any
    line the text format would reject."""
    types: dict[str, str] = {}
    samples: list[tuple[str, str, float]] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"family {name} declared twice"
            types[name] = kind
        elif line.startswith("# HELP "):
            continue
        else:
            m = SAMPLE.match(line)
            assert m, f"not a valid sample line: {line!r}"
            samples.append((m["name"], m["labels"] or "", float(m["value"])))
    return types, samples


def test_metrics_text_is_valid_and_matches_stats(cluster: Cluster) -> None:
    nodes = cluster.start_joined(3)
    node = nodes[0]
    wait_probe_rounds(nodes, 3)
    stats = node.stats()
    for gauge in ("update_queue", "push_queue", "event_queue", "health_multiplier"):
        assert gauge in stats
    assert stats["probe_rtt_count"] >= 3 and stats["probe_rtt_sum_us"] > 0
    types, samples = parse(node.metrics_text())
    for name, _, _ in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, f"{name} has no TYPE"
    alive = [v for n, labels, v in samples if n == "rumor_members" and 'state="alive"' in labels]
    assert alive == [3.0]
    buckets = [v for n, _, v in samples if n == "rumor_probe_rtt_seconds_bucket"]
    assert buckets == sorted(buckets), "histogram buckets are cumulative"
    count = [v for n, _, v in samples if n == "rumor_probe_rtt_seconds_count"]
    assert buckets[-1] == count[0] >= 3, "+Inf holds every answer"
    assert buckets[-2] <= buckets[-1], "the 1 s bucket is within +Inf"
    pings = [v for n, labels, v in samples if n == "rumor_messages_sent_total" and "ping" in labels]
    assert pings and pings[0] > 0
    ping_bytes = [
        v for n, labels, v in samples if n == "rumor_message_bytes_sent_total" and "ping" in labels
    ]
    assert ping_bytes and ping_bytes[0] >= 4 * pings[0], "a Ping is several bytes"
    assert stats["bytes_received_ack"] > 0
    assert types["rumor_dropped_total"] == types["rumor_probes_total"] == "counter"


def test_label_values_are_escaped() -> None:
    text = prometheus_text('we"ird\\name\n', {"members_alive": 1}, ProbeRtt([], 0, 0))
    assert 'node="we\\"ird\\\\name\\n"' in text
    parse(text)


def test_a_node_exposes_metrics_alone() -> None:
    with rumor.Node(name="solo") as node:
        types, _ = parse(node.metrics_text())
        assert types["rumor_members"] == "gauge"


def test_a_simulated_node_has_the_stats_keys_of_a_live_one(node: rumor.Node) -> None:
    """SimNode.stats() has every key of Node.stats(), gauges included (its
    own are only the sim_ counters), with the running engine's values."""
    sim = rumor.Simulation(3, config=fast_config(), seed=1)
    sim.run_until(rumor.Simulation.converged, timeout=30)
    simulated = sim.node("n0").stats()
    own = {key for key in simulated if key.startswith("sim_")}
    assert set(simulated) - own == set(node.stats())
    assert simulated["members_alive"] == 3
    assert simulated["health_multiplier"] >= 1
    assert simulated["update_queue"] >= 0 and simulated["push_queue"] >= 0
    sim.kill("n0")
    assert sim.node("n0").stats()["members_alive"] == 0, "a down node's gauges are zeros"


def test_a_simulated_node_exposes_metrics_like_a_live_one() -> None:
    """SimNode.metrics_text() is valid exposition with the same gauges."""
    sim = rumor.Simulation(3, config=fast_config(), seed=1)
    sim.run_until(rumor.Simulation.converged, timeout=30)
    sim.run(3)
    types, samples = parse(sim.node("n1").metrics_text())
    assert types["rumor_update_queue"] == types["rumor_members"] == "gauge"
    alive = [v for n, labels, v in samples if n == "rumor_members" and 'state="alive"' in labels]
    assert alive == [3.0]
    count = [v for n, _, v in samples if n == "rumor_probe_rtt_seconds_count"]
    assert count and count[0] > 0, "probes answered in virtual time are in the histogram"
