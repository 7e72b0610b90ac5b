"""Side by side on loopback: rumor agents against Serf agents and a Redis
Cluster, one OS process per node for every system.

Systems (``--systems``):

- ``rumor``: ``rumor agent``, LAN preset (SWIM with Lifeguard, and crash
  detection from closed ports: a probe refused by port-unreachable, checked
  once, fails the member at once);
- ``rumor-no-evidence``: the same with ``--closed-port-evidence off``
  (Lifeguard's suspicion timeout decides every failure);
- ``serf``: ``serf agent -profile=lan`` (HashiCorp memberlist inside);
- ``rumor-quorum``: ``rumor agent --failure-detector quorum --node-timeout 1``;
- ``redis``: ``redis-server --cluster-enabled yes``, ``cluster-node-timeout``
  1000 ms, the 16,384 slots spread over all N masters so that Redis counts
  failure reports from every node (its quorum is a majority of the masters
  that serve slots).

Every node starts first; once all are up, every node but the seed is told at
the same instant to join through the seed (rumor: the agent's control
``join``; Serf: its RPC ``join``; Redis: ``CLUSTER MEET``). Per run:

- join: seconds until every node knows all N as alive (rumor and Serf: the
  last join event; Redis: ``CLUSTER NODES`` polled every 50 ms shows all N
  connected, none in handshake or failing);
- first suspicion / all failed: seconds from a SIGKILL of one node until the
  first survivor suspects it (Redis logs no PFAIL at notice level: not
  measured) and until every survivor reports it failed;
- false failures: fail events, during the whole run, about any member other
  than the one killed (or the one stopped, counted apart);
- SIGSTOP: after the broadcast, another survivor is stopped with SIGSTOP
  for 5 s and continued with SIGCONT; ``stop_failed`` counts the survivors
  that declared it failed, from the stop until 5 s after the SIGCONT (a
  paused process keeps its port: no evidence, and a 5 s pause is within
  Lifeguard's suspicion timeout);
- broadcast: seconds from one user message until the last survivor had it
  (rumor: ``broadcast``; Serf: ``serf event -coalesce=false``; Redis:
  ``PUBLISH``, which the cluster bus sends to every node, read by one
  subscriber per node), and the fraction of survivors reached;
- cost, over ``--idle`` seconds after the join: CPU % and RSS per node from
  /proc, and bytes per second per node sent on loopback.

By default (as root) the script re-runs itself inside a private network
namespace (``unshare --net``) so that the loopback counters in
/proc/net/dev hold only this cluster's traffic; ``--no-netns`` keeps the
host's loopback and reports no bytes.

Times are taken when an output line or answer reaches this script, the same
way for every system. The script installs nothing: it looks for ``serf`` and
``redis-server`` and says how to get them (``apt-get install serf
redis-server``). It prints one line per run, then a Markdown table of
medians (min-max) and, with ``--json FILE``, every run as JSON.

    python benches/cluster.py --nodes 8 16 32 64 --runs 3 --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

HOST = "127.0.0.1"
LIMIT = 120.0
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
NETNS_ENV = "RUMOR_BENCH_NETNS"
PAUSE = 5.0
"""Seconds a survivor stays stopped (SIGSTOP), then watched after SIGCONT."""


# Ports are handed out in order from below the kernel's ephemeral range
# (32768 and up by default), so a port the kernel picks for some socket
# bound to port 0 (a control socket, an outgoing connection) can never be
# one a node is about to bind.
_next_port = 20000


def free_port() -> int:
    """The next port below the ephemeral range that is free for UDP and TCP."""
    global _next_port
    while _next_port < 32768:
        port = _next_port
        _next_port += 1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((HOST, port))
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind((HOST, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port left below 32768")


def loopback_tx_bytes() -> int | None:
    """Bytes sent on ``lo`` in this process's network namespace."""
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, counters = line.partition(":")
            if name.strip() == "lo":
                return int(counters.split()[8])
    return None


@dataclass
class Proc:
    """One node's process and the lines it printed, with arrival times."""

    name: str
    argv: list[str]
    lines: queue.Queue[tuple[float, str]] = field(default_factory=queue.Queue)
    popen: subprocess.Popen[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def start(self, cwd: str | None = None) -> None:
        self.popen = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen is not None and self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put((time.monotonic(), line))

    def wait_line(self, pattern: re.Pattern[str], timeout: float = LIMIT) -> re.Match[str]:
        """Skips output until a line matches; the lines after it stay queued."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                _, line = self.lines.get(timeout=min(max(left, 0.001), 1.0))
            except queue.Empty:
                assert self.popen is not None
                if self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.popen.returncode}") from None
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no line like {pattern.pattern!r}") from None
                continue
            m = pattern.search(line)
            if m:
                return m

    def cpu_rss(self) -> tuple[float, int]:
        """CPU seconds used so far and resident bytes now."""
        assert self.popen is not None
        with open(f"/proc/{self.popen.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{self.popen.pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE
        return (int(fields[11]) + int(fields[12])) / TICK, rss

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)  # only processes this script started
        if self.popen is not None:
            self.popen.wait()
            if self.popen.stdout is not None:
                self.popen.stdout.close()


class System:
    """How to start, join, read and message one system's nodes."""

    name = ""
    # Output lines (rumor, Serf): group 1 names the member. Redis overrides.
    join_re: re.Pattern[str] | None = None
    suspect_re: re.Pattern[str] | None = None
    fail_re: re.Pattern[str]
    event_re: re.Pattern[str] | None = None

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir

    def agents(self, n: int) -> list[Proc]:
        raise NotImplementedError

    def ready(self, p: Proc) -> None:
        """Returns once ``p`` can be told to join."""
        raise NotImplementedError

    def join(self, p: Proc, seed: Proc) -> None:
        raise NotImplementedError

    def member_name(self, p: Proc) -> str:
        """How other nodes name ``p`` in their output."""
        return p.name

    def converged(self, procs: list[Proc]) -> dict[str, float] | None:
        """Polls for join convergence when output lines cannot tell; the
        time each node first looked complete."""
        return None

    def broadcast(self, node: Proc, payload: str) -> None:
        raise NotImplementedError


class Rumor(System):
    name = "rumor"
    join_re = re.compile(r'"event": "join", "member": \{"name": "([^"]+)"')
    suspect_re = re.compile(r'"event": "suspect", "member": \{"name": "([^"]+)"')
    fail_re = re.compile(r'"event": "fail", "member": \{"name": "([^"]+)"')
    event_re = re.compile(r'"event": "rumor".*"payload": "([^"]+)"')
    started_re = re.compile(r'"event": "started".*"addr": "([^"]+)".*"control": "([^"]+)"')
    extra: ClassVar[list[str]] = []

    def agents(self, n: int) -> list[Proc]:
        procs = []
        for i in range(n):
            argv = [sys.executable, "-m", "rumor", "agent", "--bind", f"{HOST}:{free_port()}"]
            argv += ["--name", f"n{i}", "--control", f"{HOST}:0", *self.extra]
            procs.append(Proc(f"n{i}", argv))
        return procs

    def ready(self, p: Proc) -> None:
        m = p.wait_line(self.started_re)
        p.info["addr"], p.info["control"] = m.group(1), m.group(2)

    def _request(self, p: Proc, command: str) -> None:
        host, port = p.info["control"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall((command + "\n").encode())
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        if b'"error"' in answer:
            raise RuntimeError(f"{p.name}: {command}: {answer.decode()}")

    def join(self, p: Proc, seed: Proc) -> None:
        self._request(p, f"join {seed.info['addr']}")

    def broadcast(self, node: Proc, payload: str) -> None:
        self._request(node, f"broadcast {payload}")


class RumorNoEvidence(Rumor):
    name = "rumor-no-evidence"
    extra: ClassVar[list[str]] = ["--closed-port-evidence", "off"]


class RumorQuorum(Rumor):
    name = "rumor-quorum"
    extra: ClassVar[list[str]] = ["--failure-detector", "quorum", "--node-timeout", "1"]


def msgpack(obj: Any) -> bytes:
    """The few msgpack forms Serf's RPC requests use (maps, strings, lists,
    small ints, booleans, nil)."""
    if obj is None:
        return b"\xc0"
    if isinstance(obj, bool):
        return b"\xc3" if obj else b"\xc2"
    if isinstance(obj, int):
        assert 0 <= obj < 128
        return bytes([obj])
    if isinstance(obj, str):
        raw = obj.encode()
        assert len(raw) < 256
        return (bytes([0xA0 | len(raw)]) if len(raw) < 32 else bytes([0xD9, len(raw)])) + raw
    if isinstance(obj, list):
        assert len(obj) < 16
        return bytes([0x90 | len(obj)]) + b"".join(msgpack(x) for x in obj)
    if isinstance(obj, dict):
        assert len(obj) < 16
        return bytes([0x80 | len(obj)]) + b"".join(msgpack(k) + msgpack(v) for k, v in obj.items())
    raise TypeError(type(obj))


class Serf(System):
    name = "serf"
    join_re = re.compile(r"EventMemberJoin: (\S+)")
    suspect_re = re.compile(r"memberlist: Suspect (\S+) has failed")
    fail_re = re.compile(r"EventMemberFailed: (\S+)")
    event_re = re.compile(r"Received event: user-event: (\S+)")
    running_re = re.compile(r"Serf agent running")

    def agents(self, n: int) -> list[Proc]:
        procs = []
        for i in range(n):
            addr, rpc = f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"
            argv = ["serf", "agent", f"-bind={addr}", f"-node=n{i}", "-log-level=info"]
            argv += [f"-rpc-addr={rpc}", "-profile=lan"]
            procs.append(Proc(f"n{i}", argv, info={"addr": addr, "rpc": rpc}))
        return procs

    def ready(self, p: Proc) -> None:
        p.wait_line(self.running_re)

    def _rpc(self, p: Proc, command: str, body: dict[str, Any], answer_has: bytes) -> None:
        # Serf's RPC protocol: a msgpack header and body per request, a
        # handshake first. Every answer starts with a header map holding
        # "Error", empty on success.
        host, port = p.info["rpc"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(msgpack({"Command": "handshake", "Seq": 0}) + msgpack({"Version": 1}))
            s.sendall(msgpack({"Command": command, "Seq": 1}) + msgpack(body))
            answer = b""
            while answer.count(b"Error") < 2 or answer_has not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError(f"{p.name}: serf {command}: connection closed: {answer!r}")
                answer += chunk
        if answer.count(b"\xa5Error\xa0") != 2:
            raise RuntimeError(f"{p.name}: serf {command} failed: {answer!r}")

    def join(self, p: Proc, seed: Proc) -> None:
        self._rpc(p, "join", {"Existing": [seed.info["addr"]], "Replay": False}, b"Num")

    def broadcast(self, node: Proc, payload: str) -> None:
        # What ``serf event -coalesce=false`` sends, without a process start.
        self._rpc(node, "event", {"Name": payload, "Payload": None, "Coalesce": False}, b"")


def resp(*args: str) -> bytes:
    """A Redis command in RESP."""
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        raw = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class RedisConn:
    """A blocking connection that sends commands and reads one reply each
    (simple strings, errors, integers and bulk strings: all this script uses)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.buf = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def call(self, *args: str) -> str:
        self.sock.sendall(resp(*args))
        line = self._line()
        if line[:1] == b"-":
            raise RuntimeError(f"redis: {' '.join(args)}: {line[1:].decode()}")
        if line[:1] == b"$":
            size = int(line[1:])
            while len(self.buf) < size + 2:
                self.buf += self.sock.recv(65536)
            body, self.buf = self.buf[:size], self.buf[size + 2 :]
            return body.decode()
        return line[1:].decode()

    def close(self) -> None:
        self.sock.close()


class Redis(System):
    name = "redis"
    ready_re = re.compile(r"Ready to accept connections")
    # The node that reaches the quorum, and the nodes it then tells.
    fail_re = re.compile(
        r"Marking node (\w+) .*as failing|FAIL message received from \w+ .*about (\w+)"
    )
    # Filled in per run: node ids, printed in the log lines, to names.
    ids: dict[str, str]

    def agents(self, n: int) -> list[Proc]:
        # A directory per run: a node finding an earlier run's nodes.conf
        # under a reused port would start with that run's slots.
        rundir = tempfile.mkdtemp(dir=self.workdir)
        procs = []
        for i in range(n):
            port, bus = free_port(), free_port()
            argv = ["redis-server", "--port", str(port), "--bind", HOST, "--cluster-enabled"]
            argv += ["yes", "--cluster-port", str(bus), "--cluster-node-timeout", "1000"]
            argv += ["--cluster-config-file", f"{rundir}/nodes-{port}.conf"]
            argv += ["--save", "", "--appendonly", "no", "--logfile", "", "--loglevel", "notice"]
            argv += ["--protected-mode", "no", "--dir", rundir]
            procs.append(Proc(f"n{i}", argv, info={"port": port, "bus": bus}))
        self.ids = {}
        return procs

    def ready(self, p: Proc) -> None:
        p.wait_line(self.ready_re)
        conn = RedisConn(p.info["port"])
        p.info["id"] = conn.call("CLUSTER", "MYID")
        self.ids[p.info["id"]] = p.name
        conn.close()

    def assign_slots(self, procs: list[Proc]) -> None:
        """Every node a master with slots, so that every one counts."""
        n = len(procs)
        for i, p in enumerate(procs):
            first, last = 16384 * i // n, 16384 * (i + 1) // n - 1
            conn = RedisConn(p.info["port"])
            conn.call("CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
            conn.close()

    def join(self, p: Proc, seed: Proc) -> None:
        conn = RedisConn(p.info["port"])
        conn.call("CLUSTER", "MEET", HOST, str(seed.info["port"]), str(seed.info["bus"]))
        conn.close()

    def member_name(self, p: Proc) -> str:
        return str(p.info["id"])

    def converged(self, procs: list[Proc]) -> dict[str, float] | None:
        conns = {p.name: RedisConn(p.info["port"]) for p in procs}
        done: dict[str, float] = {}
        deadline = time.monotonic() + LIMIT
        try:
            while len(done) < len(procs) and time.monotonic() < deadline:
                for p in procs:
                    if p.name in done:
                        continue
                    rows = conns[p.name].call("CLUSTER", "NODES").splitlines()
                    if len(rows) == len(procs) and all(self._healthy(r) for r in rows):
                        done[p.name] = time.monotonic()
                time.sleep(0.05)  # the polling period of this measurement
        finally:
            for c in conns.values():
                c.close()
        return done

    @staticmethod
    def _healthy(row: str) -> bool:
        fields = row.split()
        flags = fields[2].split(",")
        bad = {"handshake", "noaddr", "fail", "fail?"}
        return fields[7] == "connected" and not bad.intersection(flags)

    def broadcast(self, node: Proc, payload: str) -> None:
        conn = RedisConn(node.info["port"])
        conn.call("PUBLISH", "bench", payload)
        conn.close()


class Subscribers:
    """One Redis SUBSCRIBE connection per node; records when each first
    received a message containing the payload."""

    def __init__(self, procs: list[Proc]) -> None:
        self.sel = selectors.DefaultSelector()
        self.heard: dict[str, float] = {}
        self.payload = ""
        self.stop = threading.Event()
        for p in procs:
            s = socket.create_connection((HOST, p.info["port"]), timeout=30)
            s.sendall(resp("SUBSCRIBE", "bench"))
            s.recv(4096)  # the subscribe confirmation
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, p.name)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.sel.select(0.05):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if self.payload and self.payload.encode() in data:
                    self.heard.setdefault(key.data, time.monotonic())

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.sel.close()


def drain(
    procs: list[Proc], until: Callable[[], bool], on_line: Callable[[Proc, float, str], None]
) -> bool:
    """Feeds queued lines to ``on_line`` until ``until()``; False after LIMIT."""
    deadline = time.monotonic() + LIMIT
    while not until():
        if time.monotonic() > deadline:
            return False
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
    return True


def drain_now(procs: list[Proc], on_line: Callable[[Proc, float, str], None]) -> None:
    """Feeds every line queued so far to ``on_line``."""
    for p in procs:
        try:
            while True:
                t, line = p.lines.get_nowait()
                on_line(p, t, line)
        except queue.Empty:
            pass


def one_run(system: System, n: int, idle: float) -> dict[str, float]:
    procs = system.agents(n)
    false_failures: list[str] = []
    try:
        for p in procs:
            p.start(cwd=system.workdir)
        for p in procs:
            system.ready(p)
        if isinstance(system, Redis):
            system.assign_slots(procs)
        seed = procs[0]
        joined: dict[str, set[str]] = {p.name: set() for p in procs}
        last_join: dict[str, float] = {}

        victim = procs[n // 2]
        victim_name = ""  # until the kill, every failure is a false one
        stopped_name = ""  # the node paused by SIGSTOP, once chosen
        stop_failed: set[str] = set()
        names = getattr(system, "ids", None)
        failed: dict[str, float] = {}

        def check_fail(p: Proc, t: float, line: str) -> None:
            f = system.fail_re.search(line)
            if f:
                who = f.group(f.lastindex or 1)
                if who == victim_name:
                    failed.setdefault(p.name, t)
                elif who == stopped_name:
                    stop_failed.add(p.name)
                else:
                    false_failures.append(f"{p.name}: {names.get(who, who) if names else who}")

        def on_join(p: Proc, t: float, line: str) -> None:
            check_fail(p, t, line)
            assert system.join_re is not None
            m = system.join_re.search(line)
            if m and m.group(1) != p.name:
                joined[p.name].add(m.group(1))
                if len(joined[p.name]) == n - 1:
                    last_join.setdefault(p.name, t)

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            for f in [pool.submit(system.join, p, seed) for p in procs[1:]]:
                f.result()
        polled = system.converged(procs)
        if polled is not None:
            last_join = polled
        else:
            drain(procs, lambda: len(last_join) == n, on_join)
        join = max(last_join.values()) - t0 if len(last_join) == n else float("inf")

        # Idle cost. Earlier output stays queued and is checked for false
        # failures below.
        tx0 = loopback_tx_bytes() if os.environ.get(NETNS_ENV) else None
        before = {p.name: p.cpu_rss() for p in procs}
        t_idle = time.monotonic()
        time.sleep(idle)  # the measurement window itself
        spent = time.monotonic() - t_idle
        after = {p.name: p.cpu_rss() for p in procs}
        tx1 = loopback_tx_bytes() if tx0 is not None else None
        cpu = statistics.mean((after[k][0] - before[k][0]) / spent * 100 for k in after)
        rss = statistics.mean(v[1] for v in after.values()) / 2**20
        sent = (tx1 - tx0) / spent / n if tx0 is not None and tx1 is not None else float("nan")

        drain_now(procs, check_fail)
        victim_name = system.member_name(victim)
        survivors = [p for p in procs if p is not victim]
        first_suspect: list[float] = []

        def on_fail(p: Proc, t: float, line: str) -> None:
            if system.suspect_re is not None:
                s = system.suspect_re.search(line)
                if s and s.group(1) == victim_name and not first_suspect:
                    first_suspect.append(t)
            check_fail(p, t, line)

        subscribers = Subscribers(survivors) if isinstance(system, Redis) else None
        kill = time.monotonic()
        victim.stop(signal.SIGKILL)
        complete = drain(survivors, lambda: len(failed) == len(survivors), on_fail)
        detect_all = max(failed.values()) - kill if complete else float("inf")
        if first_suspect:
            detect_first = first_suspect[0] - kill
        else:
            detect_first = float("nan")

        payload = f"bench{time.time_ns()}"
        heard: dict[str, float] = {}

        def on_event(p: Proc, t: float, line: str) -> None:
            on_fail(p, t, line)
            assert system.event_re is not None
            m = system.event_re.search(line)
            if m and payload in m.group(1):
                heard.setdefault(p.name, t)

        if subscribers is not None:
            subscribers.payload = payload
            heard = subscribers.heard
        t_sent = time.monotonic()
        system.broadcast(survivors[0], payload)
        if subscribers is not None:
            deadline = time.monotonic() + 10
            while len(heard) < len(survivors) and time.monotonic() < deadline:
                time.sleep(0.002)
            subscribers.close()
        else:
            deadline = time.monotonic() + 10
            drain(
                survivors,
                lambda: len(heard) == len(survivors) or time.monotonic() > deadline,
                on_event,
            )
        spread = (max(heard.values()) - t_sent) if heard else float("nan")
        drain_now(survivors, on_fail)

        # A pause, not a crash: SIGSTOP for 5 s, then SIGCONT; no survivor
        # may declare it failed, then or within 5 s after.
        stopped = survivors[len(survivors) // 2]
        stopped_name = system.member_name(stopped)
        others = [p for p in survivors if p is not stopped]
        assert stopped.popen is not None
        stopped.popen.send_signal(signal.SIGSTOP)  # only processes this script started
        try:
            resume = time.monotonic() + PAUSE
            drain(others, lambda: time.monotonic() >= resume, on_fail)
        finally:
            stopped.popen.send_signal(signal.SIGCONT)
        watch = time.monotonic() + PAUSE
        drain(survivors, lambda: time.monotonic() >= watch, on_fail)
        if stop_failed:
            print(
                f"  {stopped.name} declared failed after SIGSTOP by {len(stop_failed)}", flush=True
            )
        if false_failures:
            print(f"  false failures: {false_failures}", flush=True)
        return {
            "join": join,
            "first_suspect": detect_first,
            "all_failed": detect_all,
            "false_failures": len(false_failures),
            "broadcast": spread,
            "delivered": len(heard) / len(survivors),
            "stop_failed": len(stop_failed),
            "cpu_pct": cpu,
            "rss_mib": rss,
            "bytes_per_s": sent,
        }
    finally:
        for p in procs:
            p.stop()


KEYS = [
    "join",
    "first_suspect",
    "all_failed",
    "false_failures",
    "broadcast",
    "delivered",
    "stop_failed",
    "cpu_pct",
    "rss_mib",
    "bytes_per_s",
]
SYSTEMS: dict[str, type[System]] = {
    "rumor": Rumor,
    "rumor-no-evidence": RumorNoEvidence,
    "serf": Serf,
    "rumor-quorum": RumorQuorum,
    "redis": Redis,
}
NEEDS = {"serf": "serf", "redis": "redis-server"}


def summary(values: list[float]) -> str:
    if all(v != v for v in values):  # all NaN: not measured
        return "-"
    if any(v != v for v in values):
        values = [v for v in values if v == v]
    med, lo, hi = statistics.median(values), min(values), max(values)
    digits = 0 if med >= 100 else 1 if med >= 10 else 2 if med >= 0.1 else 3
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--nodes", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", type=float, default=10.0, help="idle seconds measured for cost")
    ap.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    ap.add_argument("--no-netns", action="store_true", help="stay on the host's loopback")
    ap.add_argument("--json", help="write every run to this file")
    args = ap.parse_args()

    if not args.no_netns and not os.environ.get(NETNS_ENV):
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            sys.exit("a private network namespace needs root and unshare; or use --no-netns")
        env = dict(os.environ, **{NETNS_ENV: "1"})
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, *sys.argv], env)
    if os.environ.get(NETNS_ENV):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

    missing = [NEEDS[s] for s in args.systems if s in NEEDS and shutil.which(NEEDS[s]) is None]
    if missing:
        print(f"not installed: {', '.join(missing)} (apt-get install {' '.join(missing)});")
        print("running without them")
    names = [s for s in args.systems if NEEDS.get(s) not in missing]
    results: list[dict[str, Any]] = []
    table: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rumor-bench-") as workdir:
        for n in args.nodes:
            for name in names:
                system = SYSTEMS[name](workdir)
                runs = []
                for r in range(args.runs):
                    result = one_run(system, n, args.idle)
                    runs.append(result)
                    results.append({"system": name, "nodes": n, "run": r + 1, **result})
                    if args.json:  # after every run: a failed run keeps the others
                        with open(args.json, "w") as f:
                            json.dump(results, f, indent=1)
                    shown = " | ".join(f"{k} {result[k]:.3f}" for k in KEYS)
                    print(f"{name:12} n={n:<3} run {r + 1}: {shown}", flush=True)
                cells = [summary([x[k] for x in runs]) for k in KEYS]
                table.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    print()
    print("| system | nodes | " + " | ".join(KEYS) + " |")
    print("|---|---|" + "---|" * len(KEYS))
    print("\n".join(table))


if __name__ == "__main__":
    main()
