"""Scale on one machine: N rumor nodes in one process on loopback.

Starts N ``rumor.Node`` objects (default 1,000) in this process, each on its
own UDP socket and TCP listener at 127.0.0.1 with an OS-assigned port, all
with the LAN preset. The first ``--seeds`` nodes join each other; then every
other node joins through those seeds (``join_async``), all at the same
instant, or ``--join-rate`` per second. Measured:

* converge: from the first join until every node's membership callbacks
  have reported all N alive (then checked once against the engines' own
  views), with a progress line every ``--progress`` seconds;
* settle: until no node has membership updates left to gossip;
* idle CPU over ``--idle`` seconds (process user + system time from
  ``getrusage``; total, per node, and split by thread from
  ``/proc/self/task/*/schedstat``: the Rust runtime's ``rumor-io`` threads
  versus the Python ones), the threads' wake-ups (context switches, from
  ``/proc/self/task/*/status``) per second by the same groups, the CPU
  other processes used meanwhile, and the traffic and suspicions;
* memory: resident set size (``/proc/self/statm``) before any node, after
  the N nodes started alone, and after they converged and idled; per node
  is the growth divided by N;
* soak (``--soak SECONDS``): the converged cluster left alone; every
  ``on_fail`` callback in it is a false failure (nobody was stopped), and
  every ``on_suspect`` one a false suspicion, both counted by node;
* detection: one non-seed node is closed without leaving (``Node.close()``
  alone, the public API's abrupt stop: its socket closes and it answers
  nothing more, which the others see as a crash), then the time until
  every survivor's ``on_fail`` callback has fired for it.

Waits poll their condition against a deadline; only the idle window is a
plain timed wait. The soft limit on open files is raised to the hard limit
(each node holds a UDP socket and a TCP listener).

On a 2-core machine 1,000 nodes joining at once saturate both cores, drop
datagrams in the kernel and fall into a suspicion storm that did not clear
within 300 s in most runs; ``--join-rate 50`` converges. Smaller clusters
(500) converge at once in a few seconds.

The issue's targets (#16) are checked at the end, in a ``targets`` block:
converge within 60 s with no suspect entry, no false failure over the
soak, at most 150 KiB per node and at most 15 % of one core idle.

    python benches/scale.py --soak 300                 # the issue's run
    python benches/scale.py --nodes 300 --idle 10 --soak 30 --no-detect
    python benches/scale.py --join-rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import ctypes
import functools
import os
import resource
import statistics
import threading
import time
from collections.abc import Callable, Iterable

import rumor
from crash_watch import CrashWatch

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- process measurements ---------------------------------------------------


def raise_fd_limit(needed: int) -> tuple[int, int]:
    """Raises the soft limit on open files to the hard limit; returns both.

    Raises SystemExit when even the hard limit is below ``needed``.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise SystemExit(f"need about {needed} open files, the hard limit is {hard}")
    return soft, hard


def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap_in_use() -> int | None:
    """Bytes allocated and not freed, over all malloc arenas (glibc's
    ``mallinfo2``; ``None`` elsewhere). It counts allocations never
    touched, which RSS does not: each node's 64 KiB receive buffer, mostly
    untouched pages, is here in full."""
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    f.restype = _MallInfo2
    m = f()
    return int(m.uordblks + m.hblkhd)


def peak_rss() -> int:
    """The highest resident set size of this process so far, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds() -> float:
    """User + system CPU time of the whole process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _thread_group(tid: str, name: str) -> str:
    if name.startswith("rumor-io"):
        return "rumor-io"
    return "main" if int(tid) == os.getpid() else "python"


def thread_cpu() -> dict[str, tuple[str, float]]:
    """CPU seconds so far of each live thread, by thread id, with its
    group: the Rust runtime's ``rumor-io`` threads (its two workers, and
    the blocking threads that wait for ``join_async``), the main thread,
    and every other thread (the Python ones: the event dispatchers, and the
    joins' event loop).

    Read from ``schedstat`` (nanoseconds on a CPU), not ``stat``, whose
    clock ticks round a thread that runs a few microseconds at a time down
    to nothing."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[tid] = (_thread_group(tid, name), int(f.read().split()[0]) / 1e9)
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return out


def thread_switches() -> dict[str, tuple[str, float]]:
    """Context switches so far (voluntary + involuntary: each is a wake-up
    of the thread) of each live thread, as :func:`thread_cpu`."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{tid}/status") as f:
                n = sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
            out[tid] = (_thread_group(tid, name), float(n))
        except FileNotFoundError:
            continue
    return out


def by_group(
    before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]]
) -> dict[str, float]:
    """The growth by group of the threads alive at the end (a thread that
    started meanwhile counts from zero)."""
    groups = {"rumor-io": 0.0, "main": 0.0, "python": 0.0}
    for tid, (group, v) in after.items():
        groups[group] += v - before.get(tid, (group, 0.0))[1]
    return groups


def host_busy() -> float:
    """CPU seconds all processes of the host have spent busy, summed over
    its CPUs (``/proc/stat``): minus this process's, it is the load others
    put on the machine meanwhile (the load average would count our own
    thousand threads)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / CLOCK_TICKS


def udp_receive_buffer_errors() -> int:
    """Datagrams the kernel dropped for a full socket receive buffer, all
    sockets of this network namespace (``/proc/net/snmp``)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def poll_until(
    check: Callable[[], bool], timeout: float, interval: float = 0.05, duty: float = 0.1
) -> bool:
    """Calls ``check`` until it is true (returns True) or ``timeout`` seconds
    have passed (returns False). Waits at least ``interval`` seconds between
    calls, longer when a call is slow, so that checking takes at most about
    ``duty`` of one core: reading 1,000 views is not free, and the CPU it
    takes is CPU the nodes do not get."""
    deadline = time.monotonic() + timeout
    while True:
        t = time.monotonic()
        if check():
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        time.sleep(max(interval, (now - t) * (1 - duty) / duty))


def totals(nodes: Iterable[rumor.Node], keys: Iterable[str]) -> dict[str, int]:
    """The sum over ``nodes`` of each counter in ``keys``."""
    keys = list(keys)
    out = dict.fromkeys(keys, 0)
    for node in nodes:
        stats = node.stats()
        for k in keys:
            out[k] += stats[k]
    return out


# -- the phases -------------------------------------------------------------


def views(nodes: list[rumor.Node]) -> str:
    """One line on how the engines see the cluster: alive members per view
    (min / median / max) and the suspect and dead entries over all views."""
    alive: list[int] = []
    suspect = dead = backlog = 0
    for x in nodes:
        stats = x.stats()
        alive.append(stats["members_alive"])
        suspect += stats["members_suspect"]
        dead += stats["members_dead"]
        backlog += stats["event_queue"]
    return (
        f"alive per view {min(alive)}/{statistics.median(alive):.0f}/{max(alive)}, "
        f"suspect entries {suspect}, dead entries {dead}, events not yet dispatched {backlog}"
    )


def short_views(nodes: list[rumor.Node]) -> list[rumor.Node]:
    """The nodes whose engine does not see all of ``nodes`` alive."""
    return [x for x in nodes if x.stats()["members_alive"] != len(nodes)]


UNKNOWN, ALIVE, SUSPECT, DEAD, LEFT = range(5)


class Tracker:
    """Every node's view of the others, kept from its membership callbacks
    (the way an application sees it).

    Reading the views with ``stats()`` instead would cost the main thread
    a GIL hand-over per node, and under load, with a thousand dispatcher
    threads taking turns at the GIL, one pass over 1,000 nodes then takes
    seconds. Here each dispatcher updates its own node's row and the main
    thread only reads counts. Member ``n<i>`` is column ``i``: a byte each.
    """

    def __init__(self, nodes: list[rumor.Node]) -> None:
        n = len(nodes)
        self.state = [bytearray(n) for _ in nodes]
        self.counts = [[0] * 5 for _ in nodes]
        # Callbacks so far by node and state they report (a suspicion, a
        # failure...), for the soak's false alarms.
        self.reported = [[0] * 5 for _ in nodes]
        for i, x in enumerate(nodes):
            x.on_join(functools.partial(self._set, i, ALIVE))
            x.on_alive(functools.partial(self._set, i, ALIVE))
            x.on_suspect(functools.partial(self._set, i, SUSPECT))
            x.on_fail(functools.partial(self._set, i, DEAD))
            x.on_leave(functools.partial(self._set, i, LEFT))

    def _set(self, i: int, state: int, member: rumor.Member) -> None:
        j = int(member.name[1:])
        counts = self.counts[i]
        counts[self.state[i][j]] -= 1
        counts[state] += 1
        self.state[i][j] = state
        self.reported[i][state] += 1

    def reports(self, state: int) -> list[int]:
        """Callbacks so far, by node, that reported ``state``."""
        return [r[state] for r in self.reported]

    def suspect_entries(self) -> int:
        """Members some node's callbacks last reported suspect."""
        return sum(c[SUSPECT] for c in self.counts)

    def all_alive(self) -> bool:
        """Whether every node has heard that all others are alive."""
        n = len(self.state)
        return all(c[ALIVE] == n - 1 for c in self.counts)

    def summary(self) -> str:
        alive = [c[ALIVE] + 1 for c in self.counts]  # + the node itself
        suspect = sum(c[SUSPECT] for c in self.counts)
        dead = sum(c[DEAD] for c in self.counts)
        return (
            f"alive per view {min(alive)}/{statistics.median(alive):.0f}/{max(alive)}, "
            f"suspect entries {suspect}, dead entries {dead}"
        )


class Joins:
    """The joins started at one instant, by :func:`join_all`."""

    def __init__(self) -> None:
        self.start = 0.0
        self.thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.returned: list[float] = []  # when each join returned


def join_all(nodes: list[rumor.Node], seeds: int, timeout: float, rate: float) -> Joins:
    """Joins the seeds to each other, then starts every other node's join
    through the seeds, all at one instant (``rate`` 0) or ``rate`` per
    second, and returns while they run.

    The joins are ``join_async`` calls gathered on an event loop of their
    own thread: a thousand blocking ``join`` calls would need a thousand
    threads, each taking the GIL ten times a second to check for signals,
    and those threads would starve everything else of the GIL and the CPU.
    """
    seed_addrs = [x.addr for x in nodes[:seeds]]
    for x in nodes[1:seeds]:
        x.join(seed_addrs[0], timeout=timeout)
    joins = Joins()
    started = threading.Event()

    async def join(node: rumor.Node, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await node.join_async(seed_addrs, timeout=timeout)
            joins.returned.append(time.monotonic())
        except rumor.RumorError as e:
            joins.errors.append(f"{node.name}: {e}")

    async def everyone() -> None:
        joins.start = time.monotonic()
        started.set()
        joiners = nodes[seeds:]
        await asyncio.gather(*(join(x, i / rate if rate else 0) for i, x in enumerate(joiners)))

    joins.thread = threading.Thread(target=asyncio.run, args=(everyone(),), name="join")
    joins.thread.start()
    started.wait()
    return joins


def cpu_split(
    before: dict[str, tuple[str, float]],
    after: dict[str, tuple[str, float]],
    total: float,
    wall: float,
) -> str:
    """Percent of one core by thread group over ``wall`` seconds; what the
    live threads do not account for ran on threads that ended meanwhile."""
    d = by_group(before, after)
    d["ended threads"] = max(0.0, total - sum(d.values()))
    return ", ".join(f"{k} {100 * v / wall:.1f} %" for k, v in d.items())


IDLE_KEYS = (
    "packets_sent",
    "bytes_sent",
    "suspicions",
    "refutations",
    "syncs",
    "streams_sent",
    "dropped_total",
    "send_errors",
    "events_dropped",
)

MIB = 1024 * 1024


class Report:
    """The result block, filled phase by phase."""

    def __init__(self) -> None:
        self.lines: dict[str, str] = {}
        self.loads = [f"start {load()}"]

    def __setitem__(self, key: str, value: str) -> None:
        self.lines[key] = value

    def load(self, phase: str) -> None:
        self.loads.append(f"{phase} {load()}")

    def print(self, title: str) -> None:
        lines = {**self.lines, "load average (1, 5, 15 min)": " | ".join(self.loads)}
        width = max(len(k) for k in lines)
        print(f"\n== {title} ==")
        for k, v in lines.items():
            print(f"{k:<{width}}  {v}")


def converge(
    nodes: list[rumor.Node], args: argparse.Namespace, report: Report, tracker: Tracker
) -> float | None:
    """Joins every node at once and waits until all see all alive; returns
    how long that took (``None``: not within the timeout)."""
    n = len(nodes)
    threads_before = thread_cpu()
    cpu_before = cpu_seconds()
    host_before = host_busy()
    udp_before = udp_receive_buffer_errors()
    joins = join_all(nodes, args.seeds, args.converge_timeout, args.join_rate)
    t0 = joins.start
    shown = t0

    def converged() -> bool:
        nonlocal shown
        now = time.monotonic()
        if args.progress and now - shown >= args.progress:
            shown = now
            print(f"  {now - t0:6.1f} s: {tracker.summary()}, load {load()}", flush=True)
        return tracker.all_alive()

    ok = poll_until(converged, args.converge_timeout)
    converge_s = time.monotonic() - t0
    cpu = cpu_seconds() - cpu_before
    split = cpu_split(threads_before, thread_cpu(), cpu, converge_s)
    if joins.thread is not None:
        joins.thread.join(timeout=max(0.0, t0 + args.converge_timeout + 5 - time.monotonic()))
    report.load("converged" if ok else "gave up")
    if joins.returned:
        report["join calls returned"] = (
            f"{len(joins.returned)}, median {statistics.median(joins.returned) - t0:.2f} s, "
            f"last {max(joins.returned) - t0:.2f} s"
        )
    if joins.errors:
        report["join errors"] = f"{len(joins.errors)}, first: {joins.errors[0]}"
    if ok:
        report["converge (all see all alive)"] = (
            f"{converge_s:.2f} s, suspect entries then {tracker.suspect_entries()}"
        )
        # The engines' own views, read once: the callbacks lag them a little.
        short = short_views(nodes)
        if short:
            report["engines at that moment"] = f"{len(short)} views short of {n} alive"
    else:
        report["converge (all see all alive)"] = (
            f"FAILED: not all views hold all alive after {converge_s:.0f} s"
        )
        report["views at the deadline (callbacks)"] = tracker.summary()
        report["views at the deadline (engines)"] = views(nodes)
    report["CPU while converging"] = f"{100 * cpu / converge_s:.0f} % of one core: {split}"
    others = host_busy() - host_before - cpu
    report["other processes meanwhile"] = f"{max(0.0, 100 * others / converge_s):.0f} % of one core"
    report["UDP receive buffer drops (host)"] = f"{udp_receive_buffer_errors() - udp_before}"
    report["RSS, converged"] = f"{rss() / MIB:.1f} MiB"
    print(f"converged: {ok} after {converge_s:.2f} s, load {load()}", flush=True)
    return converge_s if ok else None


def idle(nodes: list[rumor.Node], args: argparse.Namespace, report: Report) -> float:
    """Waits until no node has updates left to gossip, then measures an
    idle window; returns the process's CPU in it, in % of one core."""
    n = len(nodes)
    t = time.monotonic()
    settled = poll_until(
        lambda: all(x.stats()["update_queue"] == 0 for x in nodes),
        args.settle_timeout,
        interval=0.5,
    )
    settle_s = time.monotonic() - t
    report["settle (no updates left to gossip)"] = (
        f"{settle_s:.1f} s after converging"
        if settled
        else f"NOT within {args.settle_timeout:.0f} s (idle window taken anyway)"
    )

    print(f"idle window {args.idle:.0f} s, load {load()}", flush=True)
    before = totals(nodes, IDLE_KEYS)
    threads_before = thread_cpu()
    switches_before = thread_switches()
    cpu_before = cpu_seconds()
    host_before = host_busy()
    t = time.monotonic()
    time.sleep(args.idle)
    wall = time.monotonic() - t
    cpu = cpu_seconds() - cpu_before
    others = host_busy() - host_before - cpu
    threads_after = thread_cpu()
    switches_after = thread_switches()
    after = totals(nodes, IDLE_KEYS)
    report.load("idle end")
    d = {k: after[k] - before[k] for k in IDLE_KEYS}
    pct = 100 * cpu / wall
    report["idle CPU, whole process"] = f"{pct:.1f} % of one core ({cpu:.2f} s in {wall:.1f} s)"
    report["idle CPU per node"] = (
        f"{pct / n:.3f} % of one core ({1000 * cpu / wall / n:.2f} ms CPU per second)"
    )
    report["idle CPU by thread"] = cpu_split(threads_before, threads_after, cpu, wall)
    report["idle wake-ups by thread"] = (
        ", ".join(
            f"{k} {v / wall:.0f}/s" for k, v in by_group(switches_before, switches_after).items()
        )
        + f" ({thread_count()} threads)"
    )
    report["other processes meanwhile"] = f"{max(0.0, 100 * others / wall):.0f} % of one core"
    report["idle traffic per node"] = (
        f"{d['packets_sent'] / wall / n:.1f} packets/s, {d['bytes_sent'] / wall / n:.0f} B/s"
    )
    report["idle window events"] = (
        f"suspicions {d['suspicions']}, refutations {d['refutations']}, syncs {d['syncs']}, "
        f"streams {d['streams_sent']}, dropped {d['dropped_total']}, "
        f"send errors {d['send_errors']}, events dropped {d['events_dropped']}"
    )
    short = short_views(nodes)
    if short:
        report["after idle"] = f"{len(short)} views no longer hold all alive"
    return pct


def soak(
    nodes: list[rumor.Node], args: argparse.Namespace, report: Report, tracker: Tracker
) -> int:
    """Leaves the converged cluster alone for ``--soak`` seconds (a plain
    timed wait, with progress lines); every failure reported meanwhile is a
    false one. Returns how many there were."""
    fails = tracker.reports(DEAD)
    suspects = tracker.reports(SUSPECT)
    keys = ("suspicions", "refutations", "dropped_total")
    before = totals(nodes, keys)
    udp_before = udp_receive_buffer_errors()
    print(f"soak {args.soak:.0f} s, load {load()}", flush=True)
    end = time.monotonic() + args.soak
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, args.progress or left))
        rest = max(0.0, end - time.monotonic())
        print(f"  soak, {rest:4.0f} s left: {tracker.summary()}", flush=True)
    report.load("soak end")
    after = totals(nodes, keys)
    false_fails = [a - b for a, b in zip(tracker.reports(DEAD), fails)]
    false_suspects = [a - b for a, b in zip(tracker.reports(SUSPECT), suspects)]
    n_fail = sum(false_fails)
    report[f"soak {args.soak:.0f} s: false failures"] = (
        f"{n_fail} (reported by {sum(1 for x in false_fails if x)} nodes)"
    )
    report[f"soak {args.soak:.0f} s: false suspicions"] = (
        f"{sum(false_suspects)} callbacks (on {sum(1 for x in false_suspects if x)} nodes); "
        f"engine suspicions {after['suspicions'] - before['suspicions']}, "
        f"refutations {after['refutations'] - before['refutations']}, "
        f"datagrams dropped {after['dropped_total'] - before['dropped_total']}, "
        f"UDP receive buffer drops (host) {udp_receive_buffer_errors() - udp_before}"
    )
    report[f"soak {args.soak:.0f} s: views at the end"] = tracker.summary()
    return n_fail


def detect(nodes: list[rumor.Node], args: argparse.Namespace, report: Report) -> None:
    """Closes one non-seed node without leaving and waits until every
    survivor has declared it failed."""
    victim = nodes[len(nodes) // 2]
    survivors = [x for x in nodes if x is not victim]
    watch = CrashWatch(survivors, victim.name)
    kill = time.monotonic()
    victim.close()  # no leave: the others see a crash
    detected = poll_until(lambda: len(watch.snapshot()[1]) == len(survivors), args.detect_timeout)
    report.load("detected" if detected else "gave up")
    suspected, failed = watch.snapshot()
    times = sorted(v - kill for v in failed.values())
    first_suspect = min(suspected) - kill if suspected else None
    if first_suspect is not None:
        report["first suspicion of the victim"] = f"{first_suspect:.2f} s after the kill"
    if times:
        report["victim declared failed"] = (
            f"first {times[0]:.2f} s, median {statistics.median(times):.2f} s, "
            f"last {times[-1]:.2f} s after the kill ({len(times)} of {len(survivors)})"
        )
    if detected:
        report["all survivors mark it failed"] = f"{times[-1]:.2f} s"
    else:
        report["all survivors mark it failed"] = (
            f"INCOMPLETE: {len(survivors) - len(times)} had not after {args.detect_timeout:.0f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1000, help="cluster size (default 1000)")
    ap.add_argument("--seeds", type=int, default=1, help="nodes the others join through")
    ap.add_argument(
        "--join-rate",
        type=float,
        default=0.0,
        help="joins started per second; 0 (default) starts them all at once",
    )
    ap.add_argument("--idle", type=float, default=30.0, help="idle window, seconds")
    ap.add_argument(
        "--soak",
        type=float,
        default=0.0,
        help="seconds the converged cluster is left alone, counting false failures (default 0)",
    )
    ap.add_argument(
        "--no-detect", action="store_true", help="skip the crash detection phase at the end"
    )
    ap.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines")
    ap.add_argument("--converge-timeout", type=float, default=300.0)
    ap.add_argument("--settle-timeout", type=float, default=120.0)
    ap.add_argument("--detect-timeout", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=1, help="seeds the engines' random choices")
    args = ap.parse_args()
    n = args.nodes
    if n < 3 or not 1 <= args.seeds < n - 1:
        raise SystemExit("need --nodes >= 3 and 1 <= --seeds < nodes - 1")

    soft, hard = raise_fd_limit(2 * n + 64)
    config = rumor.Config.lan()
    joining = f"{args.join_rate:g} joins/s" if args.join_rate else "all joining at once"
    print(f"{n} nodes on 127.0.0.1, {args.seeds} seed(s), {joining}, {config!r}")
    print(f"open files limit {soft} (hard {hard}), {os.cpu_count()} CPUs, load {load()}")
    report = Report()

    rss_base = rss()
    heap_base_bytes = heap_in_use()
    t = time.monotonic()
    nodes = [
        rumor.Node(name=f"n{i}", config=config, seed=args.seed * 100_000 + i) for i in range(n)
    ]
    report["start nodes"] = f"{time.monotonic() - t:.2f} s"
    rss_started = rss()
    print(f"started {n} nodes, {thread_count()} threads", flush=True)
    tracker = Tracker(nodes)
    targets: dict[str, tuple[bool, str]] = {}
    try:
        converge_s = converge(nodes, args, report, tracker)
        suspect = tracker.suspect_entries()
        targets["converge within 60 s, none suspect"] = (
            converge_s is not None and converge_s <= 60 and suspect == 0,
            f"{converge_s:.1f} s, {suspect} suspect" if converge_s is not None else "did not",
        )
        if converge_s is not None:
            idle_pct = idle(nodes, args, report)
            targets["idle CPU at most 15 % of one core"] = (idle_pct <= 15, f"{idle_pct:.1f} %")
            rss_idle = rss()
            report["RSS before nodes"] = f"{rss_base / MIB:.1f} MiB"
            report["RSS, nodes started (alone)"] = (
                f"{rss_started / MIB:.1f} MiB = {(rss_started - rss_base) / n / 1024:.1f} KiB/node"
            )
            report["RSS, converged and idle"] = (
                f"{rss_idle / MIB:.1f} MiB = {(rss_idle - rss_base) / n / 1024:.1f} KiB/node"
            )
            report["RSS peak"] = f"{peak_rss() / MIB:.1f} MiB"
            heap, heap_base = heap_in_use(), heap_base_bytes
            if heap is not None and heap_base is not None:
                report["malloc'd, converged and idle"] = (
                    f"{heap / MIB:.1f} MiB = {(heap - heap_base) / n / 1024:.1f} KiB/node"
                )
            report["threads"] = f"{thread_count()}"
            per_node = (rss_idle - rss_base) / n / 1024
            targets["at most 150 KiB per node"] = (per_node <= 150, f"{per_node:.0f} KiB")
            if args.soak > 0:
                false_fails = soak(nodes, args, report, tracker)
                targets[f"no false failure in {args.soak:.0f} s"] = (
                    false_fails == 0,
                    f"{false_fails}",
                )
            if not args.no_detect:
                detect(nodes, args, report)
    finally:
        t = time.monotonic()
        # In parallel: under load one close can wait a while for its node's
        # task to run, and a thousand in a row add up to minutes.
        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
            list(pool.map(rumor.Node.close, nodes))
        report["close all"] = f"{time.monotonic() - t:.2f} s"
        report.print(f"rumor scale: {n} nodes in one process, LAN preset, {joining}")
        print(f"\n== targets (issue 16, at {n} nodes) ==")
        for what, (met, got) in targets.items():
            print(f"{'met' if met else 'NOT met':<8} {what}: {got}")


if __name__ == "__main__":
    main()
