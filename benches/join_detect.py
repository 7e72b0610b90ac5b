"""Join convergence and failure detection of N rumor nodes on loopback.

Every node runs in this process on its own UDP socket (127.0.0.1, free
port). All but one join through node 0 at the same instant; we time how
long until every node sees all N alive. Then one node is closed without
leaving (a crash) and we time, from the kill, the first suspicion and the
moment the last survivor declared it dead. Also reports the bytes the
whole cluster sent per second while idle, just before the crash. Prints one
line per run and the medians.

    python benches/join_detect.py --nodes 32 --runs 3 --preset lan
    python benches/join_detect.py --nodes 32 --runs 3 --detector quorum --node-timeout 1
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import rumor
from crash_watch import CrashWatch


def one_run(n: int, config: rumor.Config, seed: int) -> tuple[float, float, float, float]:
    nodes = [rumor.Node(name=f"n{i}", config=config, seed=seed * 1000 + i) for i in range(n)]
    try:
        barrier = threading.Barrier(n - 1)

        def join(node: rumor.Node) -> None:
            barrier.wait()
            node.join([nodes[0].addr], timeout=10.0)

        threads = [threading.Thread(target=join, args=(node,)) for node in nodes[1:]]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        deadline = t0 + 120
        while not all(len(x.members(state="alive")) == n for x in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("join did not converge in 120 s")
            time.sleep(0.005)
        converge = time.monotonic() - t0
        for t in threads:
            t.join()

        victim = nodes[n // 2]
        survivors = [x for x in nodes if x is not victim]
        watch = CrashWatch(survivors, victim.name)
        # Let the cluster settle before the crash, and measure its idle traffic.
        time.sleep(max(2.0, config.node_timeout if config.failure_detector == "quorum" else 0))
        sent = sum(x.stats()["bytes_sent"] for x in nodes)
        t_idle = time.monotonic()
        time.sleep(2.0)
        idle = (sum(x.stats()["bytes_sent"] for x in nodes) - sent) / (time.monotonic() - t_idle)
        kill = time.monotonic()
        victim.close()
        deadline = kill + 120
        while len(watch.snapshot()[1]) < len(survivors):
            if time.monotonic() > deadline:
                raise RuntimeError("failure not detected by all in 120 s")
            time.sleep(0.005)
        suspected, failed = watch.snapshot()
        first = (min(suspected) if suspected else min(failed.values())) - kill
        last = max(failed.values()) - kill
        return converge, first, last, idle
    finally:
        for x in nodes:
            x.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--preset", choices=["lan", "local", "wan"], default="lan")
    ap.add_argument("--detector", choices=["swim", "quorum"], default="swim")
    ap.add_argument("--node-timeout", type=float, default=15.0, help="quorum detector only")
    args = ap.parse_args()
    config = getattr(rumor.Config, args.preset)(
        failure_detector=args.detector, node_timeout=args.node_timeout
    )
    print(f"{args.nodes} nodes, preset {args.preset}: {config!r}")
    results = []
    for run in range(args.runs):
        r = one_run(args.nodes, config, run + 1)
        results.append(r)
        print(
            f"run {run + 1}: all know all {r[0]:.3f} s | first suspicion {r[1]:.3f} s | "
            f"all survivors mark failed {r[2]:.3f} s | idle cluster sends {r[3] / 1e3:.1f} kB/s"
        )
    for i, label in enumerate(["all know all", "first suspicion", "all mark failed"]):
        xs = [r[i] for r in results]
        print(
            f"median {label}: {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"
        )
    idle = statistics.median(r[3] for r in results)
    print(
        f"median idle traffic: {idle / 1e3:.1f} kB/s for the cluster, "
        f"{idle / args.nodes / 1e3:.2f} kB/s per node"
    )


if __name__ == "__main__":
    main()
