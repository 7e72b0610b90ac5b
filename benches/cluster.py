"""Side by side on loopback: N rumor agents against N Serf agents.

One OS process per node for both systems, all on 127.0.0.1 with their own
ports, all joining through node 0 at the same instant. For each system and
each N, per run:

- join: seconds until every node has reported all N - 1 others joined;
- first suspicion / all failed: seconds from a SIGKILL of one node until
  the first survivor suspects it, and until every survivor reports it
  failed;
- broadcast: seconds from one user event (rumor: ``rumor broadcast``; Serf:
  ``serf event -coalesce=false``) until the last node reported it, and the
  fraction of nodes that did;
- idle CPU % and RSS per node, read from /proc over the idle seconds before
  the kill.

Times are taken when each agent's output line reaches this script (rumor:
its JSON events; Serf: its log lines), so both systems are timed the same
way. The script installs nothing: it looks for ``serf`` and says how to get
it (``apt-get install serf``). Prints one line per run and the medians.

    python benches/cluster.py --nodes 8 16 32 --runs 3
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"
LIMIT = 120.0
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return free_port()
    return port


@dataclass
class Proc:
    """One agent process and the lines it printed, with arrival times."""

    name: str
    argv: list[str]
    lines: queue.Queue[tuple[float, str]] = field(default_factory=queue.Queue)
    popen: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen is not None and self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put((time.monotonic(), line))

    def cpu_rss(self) -> tuple[float, int]:
        """CPU seconds used so far and resident bytes now."""
        assert self.popen is not None
        with open(f"/proc/{self.popen.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{self.popen.pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE
        return (int(fields[11]) + int(fields[12])) / TICK, rss

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)  # only processes this script started
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class System:
    """How to run and read one system's agents."""

    name = ""
    join_re: re.Pattern[str]
    suspect_re: re.Pattern[str]
    fail_re: re.Pattern[str]
    event_re: re.Pattern[str]

    def agents(self, n: int) -> list[Proc]:
        raise NotImplementedError

    def broadcast(self, node: Proc, payload: str) -> None:
        raise NotImplementedError


class Rumor(System):
    name = "rumor"
    join_re = re.compile(r'"event": "join", "member": \{"name": "([^"]+)"')
    suspect_re = re.compile(r'"event": "suspect", "member": \{"name": "([^"]+)"')
    fail_re = re.compile(r'"event": "fail", "member": \{"name": "([^"]+)"')
    event_re = re.compile(r'"event": "rumor".*"payload": "([^"]+)"')

    def agents(self, n: int) -> list[Proc]:
        procs = []
        seed = f"{HOST}:{free_port()}"
        for i in range(n):
            addr = seed if i == 0 else f"{HOST}:{free_port()}"
            argv = [sys.executable, "-m", "rumor", "agent", "--bind", addr, "--name", f"n{i}"]
            argv += ["--control", f"{HOST}:{free_port()}"]
            if i > 0:
                argv += ["--join", seed]
            procs.append(Proc(f"n{i}", argv))
        return procs

    def broadcast(self, node: Proc, payload: str) -> None:
        control = node.argv[node.argv.index("--control") + 1]
        subprocess.run(
            [sys.executable, "-m", "rumor", "broadcast", "--agent", control, payload],
            check=True,
            capture_output=True,
        )


class Serf(System):
    name = "serf"
    join_re = re.compile(r"EventMemberJoin: (\S+)")
    suspect_re = re.compile(r"memberlist: Suspect (\S+) has failed")
    fail_re = re.compile(r"EventMemberFailed: (\S+)")
    event_re = re.compile(r"Received event: user-event: (\S+)")

    def agents(self, n: int) -> list[Proc]:
        procs = []
        seed = f"{HOST}:{free_port()}"
        for i in range(n):
            addr = seed if i == 0 else f"{HOST}:{free_port()}"
            argv = ["serf", "agent", f"-bind={addr}", f"-node=n{i}", "-log-level=info"]
            argv += [f"-rpc-addr={HOST}:{free_port()}", "-profile=lan"]
            if i > 0:
                argv.append(f"-join={seed}")
            procs.append(Proc(f"n{i}", argv))
        return procs

    def broadcast(self, node: Proc, payload: str) -> None:
        rpc = next(a for a in node.argv if a.startswith("-rpc-addr="))
        subprocess.run(
            ["serf", "event", rpc, "-coalesce=false", payload], check=True, capture_output=True
        )


def drain(
    procs: list[Proc], until: Callable[[], bool], on_line: Callable[[Proc, float, str], None]
) -> None:
    deadline = time.monotonic() + LIMIT
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError("not within the limit")
        busy = False
        for p in procs:
            try:
                while True:
                    t, line = p.lines.get_nowait()
                    on_line(p, t, line)
                    busy = True
            except queue.Empty:
                pass
        if not busy:
            time.sleep(0.002)


def one_run(system: System, n: int, idle: float) -> dict[str, float]:
    procs = system.agents(n)
    try:
        t0 = time.monotonic()
        for p in procs:
            p.start()
        joined: dict[str, set[str]] = {p.name: set() for p in procs}
        last_join: dict[str, float] = {}

        def on_join(p: Proc, t: float, line: str) -> None:
            m = system.join_re.search(line)
            if m and m.group(1) != p.name:
                joined[p.name].add(m.group(1))
                if len(joined[p.name]) == n - 1:
                    last_join.setdefault(p.name, t)

        drain(procs, lambda: len(last_join) == n, on_join)
        join = max(last_join.values()) - t0
        before = {p.name: p.cpu_rss() for p in procs}
        t_idle = time.monotonic()
        time.sleep(idle)
        spent = time.monotonic() - t_idle
        after = {p.name: p.cpu_rss() for p in procs}
        cpu = statistics.mean((after[k][0] - before[k][0]) / spent * 100 for k in after)
        rss = statistics.mean(v[1] for v in after.values()) / 2**20

        victim = procs[n // 2]
        survivors = [p for p in procs if p is not victim]
        first_suspect: list[float] = []
        failed: dict[str, float] = {}

        def on_fail(p: Proc, t: float, line: str) -> None:
            s = system.suspect_re.search(line)
            if s and s.group(1) == victim.name and not first_suspect:
                first_suspect.append(t)
            f = system.fail_re.search(line)
            if f and f.group(1) == victim.name:
                failed.setdefault(p.name, t)

        kill = time.monotonic()
        victim.stop(signal.SIGKILL)
        drain(survivors, lambda: len(failed) == len(survivors), on_fail)
        detect_all = max(failed.values()) - kill
        detect_first = (first_suspect[0] if first_suspect else min(failed.values())) - kill

        payload = f"bench{int(time.time())}"
        heard: dict[str, float] = {}

        def on_event(p: Proc, t: float, line: str) -> None:
            m = system.event_re.search(line)
            if m and payload in m.group(1):
                heard.setdefault(p.name, t)

        sent = time.monotonic()
        system.broadcast(survivors[0], payload)
        try:
            drain(survivors, lambda: len(heard) == len(survivors), on_event)
        except TimeoutError:
            pass
        spread = (max(heard.values()) - sent) if heard else float("nan")
        return {
            "join": join,
            "first_suspect": detect_first,
            "all_failed": detect_all,
            "broadcast": spread,
            "delivered": len(heard) / len(survivors),
            "cpu_pct": cpu,
            "rss_mib": rss,
        }
    finally:
        for p in procs:
            p.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", type=float, default=5.0, help="idle seconds measured for CPU")
    ap.add_argument("--systems", nargs="+", default=["rumor", "serf"])
    args = ap.parse_args()
    systems: list[System] = []
    for name in args.systems:
        if name == "serf" and shutil.which("serf") is None:
            print("serf is not installed: apt-get install serf (skipping it)")
            continue
        systems.append(Rumor() if name == "rumor" else Serf())
    keys = ["join", "first_suspect", "all_failed", "broadcast", "delivered", "cpu_pct", "rss_mib"]
    for n in args.nodes:
        for system in systems:
            runs = []
            for r in range(args.runs):
                result = one_run(system, n, args.idle)
                runs.append(result)
                shown = " | ".join(f"{k} {result[k]:.3f}" for k in keys)
                print(f"{system.name:5} n={n:<3} run {r + 1}: {shown}", flush=True)
            med = " | ".join(
                f"{k} {statistics.median(x[k] for x in runs):.3f} "
                f"({min(x[k] for x in runs):.3f}-{max(x[k] for x in runs):.3f})"
                for k in keys
            )
            print(f"{system.name:5} n={n:<3} median: {med}", flush=True)


if __name__ == "__main__":
    main()
