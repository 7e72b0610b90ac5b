"""A flood of hostile datagrams at one live node on loopback.

Three nodes join (LAN preset with 0.5 s probes); one Python thread then
sends the first node random bytes, truncated headers, 65,507-byte garbage
and a replayed valid Ping, as fast as it can, for --seconds. Prints the
datagrams sent and handled per second, the process's peak memory before
and after, and whether a peer suspected the flooded node.

    python benches/flood.py --seconds 20
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import rumor
from support import flood


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    config = rumor.Config.lan(probe_interval=0.5, probe_timeout=0.25, gossip_interval=0.1)
    nodes = [rumor.Node(name=f"n{i}", config=config) for i in range(3)]
    suspected: list[str] = []
    try:
        for node in nodes[1:]:
            node.join(nodes[0].addr, timeout=10.0)
            node.on_suspect(lambda m: suspected.append(m.name))
        target = nodes[0]
        time.sleep(2.0)  # let the cluster settle
        before = target.stats()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.monotonic()
        sent = flood(target.addr, target.name, args.seconds)
        elapsed = time.monotonic() - t0
        time.sleep(1.0)  # let it drain its socket
        after = target.stats()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        handled = (after["dropped_total"] - before["dropped_total"]) + (
            after["received_ping"] - before["received_ping"]
        )
        print(f"flood of {elapsed:.1f} s at {target.name}")
        print(f"sent    {sent / elapsed:>10,.0f} datagrams/s ({sent:,} in all)")
        rate = handled / elapsed
        print(f"handled {rate:>10,.0f} datagrams/s ({handled:,}; the kernel dropped the rest)")
        reasons = [
            f"{k}={after[k] - before[k]:,}"
            for k in sorted(after)
            if k.startswith("dropped_") and k != "dropped_total" and after[k] != before[k]
        ]
        print("by reason: " + ", ".join(reasons))
        print(f"replayed pings answered: {after['received_ping'] - before['received_ping']:,}")
        print(f"peak RSS of the process: {rss0 / 1024:.1f} MiB before, {rss1 / 1024:.1f} MiB after")
        print(f"suspicions of the flooded node by its peers: {suspected.count(target.name)}")
    finally:
        for node in nodes:
            node.close()


if __name__ == "__main__":
    main()
