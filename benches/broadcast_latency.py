"""Time from ``broadcast`` to the last delivery, on N real loopback nodes.

Every node runs in this process on its own UDP socket (127.0.0.1, free
port) and joins through node 0. Once all know all, one node broadcasts,
every ``--gap`` seconds, ``--broadcasts`` times in all (a different sender
each time); for each we time, from the ``broadcast`` call, the moment the
last of the N members (the sender included) ran its ``on_rumor`` callback.
Prints each time and the median, min and max.

    python benches/broadcast_latency.py --nodes 32 --broadcasts 20 --preset lan

With ``--burst K`` the nodes instead send K broadcasts between them as fast
as a loop can (K / N each, round robin, as a user flushing a backlog would),
and each of ``--runs`` fresh clusters reports how long until every member
held every one of them, what share had arrived everywhere within 0.5 s and
1 s of the first ``broadcast`` call, duplicates, and ``pushes_evicted``:

    python benches/broadcast_latency.py --nodes 8 --burst 1000 --runs 12 --settle 2
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
    ap.add_argument("--burst", type=int, default=0, help="send this many at once instead")
    ap.add_argument("--runs", type=int, default=1, help="fresh clusters, with --burst")
    ap.add_argument("--settle", type=float, default=2.0, help="s between convergence and sending")
    args = ap.parse_args()
    config = getattr(rumor.Config, args.preset)()
    if args.burst:
        burst(args.nodes, args.burst, args.runs, args.settle, config, args.preset)
        return
    n = args.nodes
    nodes = start(n, config)
    lock = threading.Lock()
    arrivals: dict[int, list[float]] = {}
    for node in nodes:

        def on_rumor(r: rumor.Rumor) -> None:
            with lock:
                arrivals.setdefault(int(r.payload), []).append(time.monotonic())

        node.on_rumor(on_rumor)
    try:
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


def start(n: int, config: rumor.Config) -> list[rumor.Node]:
    """N nodes joined through node 0, every one seeing all N alive."""
    nodes = [rumor.Node(name=f"n{i}", config=config, seed=i) for i in range(n)]
    for node in nodes[1:]:
        node.join(nodes[0].addr, timeout=10.0)
    deadline = time.monotonic() + 60
    while not all(len(x.members(state="alive")) == n for x in nodes):
        if time.monotonic() > deadline:
            raise RuntimeError("join did not converge in 60 s")
        time.sleep(0.01)
    return nodes


def burst(n: int, k: int, runs: int, settle: float, config: rumor.Config, preset: str) -> None:
    """K broadcasts at once from all N nodes, in `runs` fresh clusters."""
    lasts: list[float] = []
    for run in range(runs):
        nodes = start(n, config)
        try:
            time.sleep(settle)  # let join gossip settle
            lock = threading.Lock()
            # (origin, seq) -> times it arrived, one per member that ran on_rumor
            arrivals: dict[tuple[str, int], list[float]] = {}
            for node in nodes:

                def on_rumor(
                    r: rumor.Rumor,
                    lock: threading.Lock = lock,
                    arrivals: dict[tuple[str, int], list[float]] = arrivals,
                ) -> None:
                    now = time.monotonic()
                    with lock:
                        arrivals.setdefault((r.origin, r.seq), []).append(now)

                node.on_rumor(on_rumor)
            t0 = time.monotonic()
            sent = [(x.name, x.broadcast(f"r{i}".encode())) for i in range(k // n) for x in nodes]
            send_s = time.monotonic() - t0
            deadline = t0 + 60
            while True:
                with lock:
                    done = sum(1 for key in sent if len(arrivals.get(key, ())) >= n)
                if done == len(sent) or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            time.sleep(0.5)  # a duplicate would come soon after
            with lock:
                everywhere = [
                    max(arrivals[key]) - t0 for key in sent if len(arrivals.get(key, ())) >= n
                ]
                dups = sum(max(0, len(arrivals.get(key, ())) - n) for key in sent)
            evicted = sum(node.stats()["pushes_evicted"] for node in nodes)
            last = max(everywhere) if len(everywhere) == len(sent) else float("inf")
            lasts.append(last)
            within = [sum(1 for t in everywhere if t <= limit) / len(sent) for limit in (0.5, 1.0)]
            print(
                f"run {run}: {len(sent)} sent in {send_s * 1000:.0f} ms; all {n} held all "
                f"after {last:.2f} s; everywhere within 0.5 s {within[0]:.3f}, "
                f"within 1 s {within[1]:.3f}; "
                f"duplicates {dups}; pushes_evicted {evicted}",
                flush=True,
            )
        finally:
            for x in nodes:
                x.close()
    ok = sum(1 for t in lasts if t <= 1.0)
    print(
        f"{n} nodes, preset {preset}, {k} broadcasts at once {settle} s after the join, "
        f"{runs} runs: all delivered "
        f"everywhere after median {statistics.median(lasts):.2f} s (min {min(lasts):.2f}, "
        f"max {max(lasts):.2f}); within 1 s in {ok} of {runs} runs"
    )


if __name__ == "__main__":
    main()
