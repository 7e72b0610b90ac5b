"""Prometheus text exposition of a node's counters and gauges."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ProbeRtt", "prometheus_text"]


class ProbeRtt(NamedTuple):
    """The probe round-trip histogram of one snapshot of a node's counters."""

    buckets: list[tuple[float, int]]
    """``(upper bound in seconds, answers in it)``, not cumulative; answers
    slower than the last bound are only in :attr:`answers`."""
    answers: int
    """Answered probes."""
    sum_us: int
    """Their round trips added up, in microseconds."""


GAUGES = {
    "update_queue": "Membership updates waiting to be piggybacked on gossip.",
    "push_queue": "Rumors and state items being pushed (rumor mongering).",
    "event_queue": "Events waiting for the application's callbacks.",
    "health_multiplier": "Lifeguard's local health multiplier (1 when healthy).",
    "task_panicked": "1 if the node's network task stopped on a bug.",
}


def _escape(value: str) -> str:
    """A label value as the text format wants it: backslash, quote and
    newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(node: str, stats: dict[str, int], rtt: ProbeRtt) -> str:
    """The exposition of one node: ``stats`` as from ``Node.stats()`` (or
    ``SimNode.stats()``, whose ``sim_*`` counters come out the same way);
    ``rtt`` the probe round trips, one snapshot, so the histogram is
    consistent."""
    who = f'node="{_escape(node)}"'
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP rumor_{name} {help_text}")
        out.append(f"# TYPE rumor_{name} {kind}")

    members = {k[len("members_") :]: v for k, v in stats.items() if k.startswith("members_")}
    family("members", "gauge", "Members in this node's view, by state.")
    for state, n in sorted(members.items()):
        out.append(f'rumor_members{{{who},state="{state}"}} {n}')
    for key, help_text in GAUGES.items():
        if key in stats:
            family(key, "gauge", help_text)
            out.append(f"rumor_{key}{{{who}}} {stats[key]}")
    for direction in ("sent", "received"):
        kinds = {k.split("_", 1)[1]: v for k, v in stats.items() if k.startswith(direction + "_")}
        family(f"messages_{direction}_total", "counter", f"Messages {direction}, by kind.")
        for kind, n in sorted(kinds.items()):
            out.append(f'rumor_messages_{direction}_total{{{who},kind="{kind}"}} {n}')
        prefix = f"bytes_{direction}_"
        sizes = {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}
        help_text = f"Encoded message bytes {direction}, by kind."
        family(f"message_bytes_{direction}_total", "counter", help_text)
        for kind, n in sorted(sizes.items()):
            out.append(f'rumor_message_bytes_{direction}_total{{{who},kind="{kind}"}} {n}')
    family("probe_rtt_seconds", "histogram", "Round trips of answered probes.")
    cumulative = 0
    for bound, n in rtt.buckets:
        cumulative += n
        out.append(f'rumor_probe_rtt_seconds_bucket{{{who},le="{bound:g}"}} {cumulative}')
    out.append(f'rumor_probe_rtt_seconds_bucket{{{who},le="+Inf"}} {rtt.answers}')
    out.append(f"rumor_probe_rtt_seconds_sum{{{who}}} {rtt.sum_us / 1e6:g}")
    out.append(f"rumor_probe_rtt_seconds_count{{{who}}} {rtt.answers}")
    skip = set(GAUGES) | {"probe_rtt_count", "probe_rtt_sum_us"}
    for key, n in sorted(stats.items()):
        if key in skip or key.startswith(
            ("members_", "sent_", "received_", "bytes_sent_", "bytes_received_")
        ):
            continue
        name = key if key.endswith("_total") else f"{key}_total"
        family(name, "counter", key.replace("_", " ").capitalize() + ".")
        out.append(f"rumor_{name}{{{who}}} {n}")
    return "\n".join(out) + "\n"
