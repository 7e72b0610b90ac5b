"""Real hosts, real faults: one rumor process per Linux network namespace.

Each simulated host is a network namespace with one veth link to a bridge
that lives in a namespace of its own; every address used is inside those
namespaces (10.77.0.0/24), none on the machine itself. The test cuts a
host off by taking its link down, heals it, and checks that membership,
broadcasts and replicated state converge with nothing lost. ``tc netem``
loss and delay run where the kernel has it.

Needs root and ``ip`` (iproute2); skips with the reason otherwise.
Every namespace and process is created here and removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from support import wait_until

WORKER = os.path.join(os.path.dirname(__file__), "netns_worker.py")
SUBNET = "10.77.0"
PORT = 7946
DEADLINE = 40.0
TAG = f"rmr{secrets.token_hex(4)}"
"""Prefix of every namespace this run creates: random, so concurrent or
crashed earlier runs never collide with it."""
REPLY_TIMEOUT = 30.0
"""Seconds a worker gets to answer one command."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_unavailable() -> str | None:
    """Why namespaces cannot be used here, or None if they can."""
    if sys.platform != "linux":
        return "network namespaces are Linux-only"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"{TAG}probe"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


pytestmark = pytest.mark.skipif((reason := netns_unavailable()) is not None, reason=reason or "")


@dataclass
class Host:
    """A namespace with one address and the rumor worker running in it."""

    index: int
    ns: str
    addr: str
    link: str
    """Its veth end inside the bridge's namespace."""
    proc: subprocess.Popen[str] | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"h{self.index}"

    def read_line(self, waiting_for: str) -> str:
        """The worker's next line; fails the test if none comes in time."""
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], REPLY_TIMEOUT)
        if not ready:
            pytest.fail(f"{self.name}: no answer to {waiting_for!r} in {REPLY_TIMEOUT} s")
        line = self.proc.stdout.readline()
        assert line, f"{self.name}'s worker exited: {self.proc.poll()}"
        return line

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.read_line(command))
        assert "error" not in reply, f"{self.name}: {command}: {reply['error']}"
        return reply


class Lab:
    """A bridge namespace and ``n`` host namespaces wired to it."""

    def __init__(self) -> None:
        self.bridge_ns = f"{TAG}br"
        self.namespaces: list[str] = []
        self.hosts: list[Host] = []

    def build(self, n: int) -> None:
        self.add_namespace(self.bridge_ns)
        self.in_bridge("ip", "link", "add", "br0", "type", "bridge")
        self.in_bridge("ip", "link", "set", "br0", "up")
        for i in range(1, n + 1):
            ns, link = f"{TAG}h{i}", f"v{i}"
            self.add_namespace(ns)
            # The pair is made inside the host's namespace, so no end ever
            # appears on the machine itself.
            self.run(ns, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", link)
            self.run(ns, "ip", "link", "set", link, "netns", self.bridge_ns)
            self.run(ns, "ip", "addr", "add", f"{SUBNET}.{i}/24", "dev", "eth0")
            self.run(ns, "ip", "link", "set", "eth0", "up")
            self.run(ns, "ip", "link", "set", "lo", "up")
            self.in_bridge("ip", "link", "set", link, "master", "br0")
            self.in_bridge("ip", "link", "set", link, "up")
            self.hosts.append(Host(i, ns, f"{SUBNET}.{i}:{PORT}", link))

    def add_namespace(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.namespaces.append(ns)  # removed in close(), whatever fails later

    @staticmethod
    def run(ns: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, check=True
        )

    def in_bridge(self, *cmd: str) -> None:
        self.run(self.bridge_ns, *cmd)

    def start(self, host: Host) -> None:
        host.proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                host.ns,
                sys.executable,
                WORKER,
                "--name",
                host.name,
                "--bind",
                host.addr,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = json.loads(host.read_line("start"))
        assert ready == {"ready": host.addr}, ready

    def cut(self, host: Host) -> None:
        """Takes the host's link down: it can reach nobody, nobody reaches it."""
        self.in_bridge("ip", "link", "set", host.link, "down")

    def heal(self, host: Host) -> None:
        self.in_bridge("ip", "link", "set", host.link, "up")

    def netem(self, host: Host, spec: str) -> str | None:
        """Applies ``tc netem`` to the host's link; the reason if it cannot."""
        if shutil.which("tc") is None:
            return "tc is not installed"
        done = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                host.ns,
                "tc",
                "qdisc",
                "replace",
                "dev",
                "eth0",
                "root",
                "netem",
                *spec.split(),
            ],
            capture_output=True,
            text=True,
        )
        return None if done.returncode == 0 else f"no netem here: {done.stderr.strip()}"

    def close(self) -> None:
        for host in self.hosts:
            if host.proc is None:
                continue
            if host.proc.poll() is None:
                host.proc.kill()  # only the workers this lab started, by their handle
            host.proc.wait()
            for pipe in (host.proc.stdin, host.proc.stdout):
                if pipe is not None:
                    pipe.close()
        for ns in self.namespaces:
            ip("netns", "del", ns, check=False)


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab()
    try:
        lab.build(5)
        for host in lab.hosts:
            lab.start(host)
        yield lab
    finally:
        lab.close()


def wait_for(what: str, check: Callable[[], bool]) -> float:
    """Waits (support.wait_until) until ``check`` holds; returns the seconds it took."""
    start = time.monotonic()
    wait_until(check, timeout=DEADLINE, message=what)
    return time.monotonic() - start


def views(lab: Lab, hosts: list[Host] | None = None) -> dict[str, dict[str, str]]:
    return {h.name: h.ask("members")["members"] for h in (hosts or lab.hosts)}


def all_alive(lab: Lab) -> bool:
    names = {h.name for h in lab.hosts}
    return all(
        set(v) == names and all(s == "alive" for s in v.values()) for v in views(lab).values()
    )


def test_a_host_cut_off_and_healed_loses_nothing(lab: Lab) -> None:
    """Five hosts converge; one is cut off and declared dead; meanwhile both
    sides broadcast and change state; after the link heals, everyone is alive
    again and every rumor and state change reached every host."""
    seed = lab.hosts[0]
    for host in lab.hosts[1:]:
        host.ask(f"join {seed.addr}")
    wait_for("all five see each other alive", lambda: all_alive(lab))

    cut = lab.hosts[4]
    rest = lab.hosts[:4]
    lab.cut(cut)
    wait_for(
        "the others declare the cut-off host dead",
        lambda: all(v[cut.name] == "dead" for v in views(lab, rest).values()),
    )
    rest[1].ask("broadcast from-the-majority")
    rest[2].ask("set color blue")
    cut.ask("broadcast from-the-island")
    cut.ask("set mood lonely")

    lab.heal(cut)
    took = wait_for("everyone alive again after the heal", lambda: all_alive(lab))

    def delivered() -> bool:
        for host in lab.hosts:
            heard = host.ask("heard")
            if not {"from-the-majority", "from-the-island"} <= set(heard["rumors"]):
                return False
            if heard["state"].get(rest[2].name, {}).get("color") != "blue":
                return False
            if heard["state"].get(cut.name, {}).get("mood") != "lonely":
                return False
        return True

    wait_for("every rumor and state change everywhere", delivered)
    for host in lab.hosts:
        rumors = host.ask("heard")["rumors"]
        assert sorted(rumors) == sorted(set(rumors)), f"{host.name} got a rumor twice: {rumors}"
    print(f"\npartition healed: all alive again {took:.2f} s after the link came up")


def test_loss_and_delay_with_netem(lab: Lab) -> None:
    """With 10% loss and 20 ms delay on every host's link, five hosts still
    converge and a broadcast reaches all of them."""
    for host in lab.hosts:
        reason = lab.netem(host, "delay 20ms 5ms loss 10%")
        if reason is not None:
            pytest.skip(reason)
    seed = lab.hosts[0]
    for host in lab.hosts[1:]:
        host.ask(f"join {seed.addr}")
    wait_for("all five see each other alive", lambda: all_alive(lab))
    lab.hosts[3].ask("broadcast through-loss")
    wait_for(
        "the broadcast everywhere",
        lambda: all("through-loss" in h.ask("heard")["rumors"] for h in lab.hosts),
    )
