"""Time from ``broadcast`` to the last delivery, on N real loopback nodes.

Every node runs in this process on its own UDP socket (127.0.0.1, free
port) and joins through node 0. Once all know all, one node broadcasts,
every ``--gap`` seconds, ``--broadcasts`` times in all (a different sender
each time); for each we time, from the ``broadcast`` call, the moment the
last of the N members (the sender included) ran its ``on_rumor`` callback.
Prints each time and the median, min and max.

    python benches/broadcast_latency.py --nodes 32 --broadcasts 20 --preset lan
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import rumor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=32)
    ap.add_argument("--broadcasts", type=int, default=20)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--preset", choices=["lan", "local", "wan"], default="lan")
    args = ap.parse_args()
    config = getattr(rumor.Config, args.preset)()
    n = args.nodes
    nodes = [rumor.Node(name=f"n{i}", config=config, seed=i) for i in range(n)]
    lock = threading.Lock()
    arrivals: dict[int, list[float]] = {}
    for node in nodes:

        def on_rumor(r: rumor.Rumor) -> None:
            with lock:
                arrivals.setdefault(int(r.payload), []).append(time.monotonic())

        node.on_rumor(on_rumor)
    try:
        for node in nodes[1:]:
            node.join(nodes[0].addr, timeout=10.0)
        deadline = time.monotonic() + 60
        while not all(len(x.members(state="alive")) == n for x in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("join did not converge in 60 s")
            time.sleep(0.01)
        time.sleep(2.0)  # let join gossip settle
        latencies = []
        for k in range(args.broadcasts):
            sender = nodes[(7 * k) % n]
            t0 = time.monotonic()
            sender.broadcast(str(k).encode())
            deadline = t0 + 60
            while True:
                with lock:
                    got = list(arrivals.get(k, ()))
                if len(got) >= n:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"broadcast {k} reached {len(got)} of {n} in 60 s")
                time.sleep(0.001)
            latencies.append(max(got) - t0)
            print(
                f"broadcast {k} from {sender.name}: last of {n} delivered after "
                f"{latencies[-1] * 1000:.1f} ms"
            )
            time.sleep(args.gap)
        with lock:
            twice = {k: len(v) for k, v in arrivals.items() if len(v) != n}
        print(
            f"{n} nodes, preset {args.preset}, {args.broadcasts} broadcasts: median "
            f"{statistics.median(latencies) * 1000:.1f} ms (min {min(latencies) * 1000:.1f}, "
            f"max {max(latencies) * 1000:.1f}); deliveries other than {n}: {twice or 'none'}"
        )
    finally:
        for x in nodes:
            x.close()


if __name__ == "__main__":
    main()
