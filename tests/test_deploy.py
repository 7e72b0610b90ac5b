"""The examples under ``docs/deploy/``: each is parsed, and the command line
it contains runs on 127.0.0.1, with its ports replaced by free ones, until
the agent has started and joined a seed; then it is stopped by its PID."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rumor
from agents import TIMEOUT, Agent, cli_until, free_port
from rumor import agent
from support import LOCALHOST, wait_until

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"


@pytest.fixture
def seeds() -> Iterator[list[rumor.Node]]:
    """Nodes on loopback for the examples' agents to join; closed at the end."""
    nodes: list[rumor.Node] = []
    yield nodes
    for node in nodes:
        node.close()


class Loopback:
    """Rewrites the addresses of an example onto 127.0.0.1: a seed's name
    to a running seed's address, any other host to 127.0.0.1, and each port
    to a free one (the same port always to the same free one, so that the
    probe finds the control port the agent listens on)."""

    ADDRESS = re.compile(r"^(?P<host>\[[^]]*\]|[^:/\s]+):(?P<port>\d+)$")

    def __init__(self, seed_for: Callable[[str], str | None]) -> None:
        self.seed_for = seed_for
        self.ports: dict[str, int] = {}

    def __call__(self, value: str) -> str:
        match = self.ADDRESS.match(value)
        if match is None:
            return value
        seed = self.seed_for(value)
        if seed is not None:
            return seed
        port = self.ports.setdefault(match["port"], free_port())
        return f"{LOCALHOST}:{port}"


def toml_text(table: dict[str, Any]) -> str:
    """A flat table of strings, numbers and lists of strings as TOML (a JSON
    string or list is a TOML one too)."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())


def test_the_example_config_file_names_only_agent_options() -> None:
    """Every key of ``docs/deploy/agent.toml`` is an option of the agent."""
    with open(DEPLOY / "agent.toml", "rb") as f:
        table = tomllib.load(f)
    assert set(table) <= {o.key for o in agent.OPTIONS}
    assert table["metrics"].endswith(":9100") and table["control"].startswith("/run/rumor/")


def test_the_systemd_unit_runs_its_agent(
    agents: list[Agent], seeds: list[rumor.Node], tmp_path: Path
) -> None:
    """``rumor-agent.service`` parses as a unit; its ExecStart, with the
    example ``agent.toml`` moved onto loopback, starts an agent that joins
    a seed with the cluster's key, passes ``rumor health``, and leaves on
    SIGTERM (the unit's KillSignal) with exit status 0."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    unit.read(DEPLOY / "rumor-agent.service")
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert service["RuntimeDirectory"] == "rumor"
    credential, _, key_source = service["LoadCredential"].partition(":")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    program = shlex.split(service["ExecStart"])[0]
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:  # where systemd is at hand, its own check as well
        copy = tmp_path / "rumor-agent.service"
        unit_text = (DEPLOY / "rumor-agent.service").read_text()
        copy.write_text(unit_text.replace(program, sys.executable))
        verified = subprocess.run(
            [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=TIMEOUT
        )
        assert verified.returncode == 0 and verified.stderr == "", verified

    # What systemd would provide: the credential, and the runtime directory.
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    key = os.urandom(32)
    (credentials / credential).write_text(key.hex() + "\n")
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"CREDENTIALS_DIRECTORY": str(credentials)}
    argv = [
        re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], a) for a in shlex.split(service["ExecStart"])
    ]
    assert key_source == "/etc/rumor/cluster.key"

    with open(DEPLOY / "agent.toml", "rb") as f:
        table = tomllib.load(f)
    seed = rumor.Node(
        name="seed",
        bind=f"{LOCALHOST}:0",
        config=rumor.Config.lan(keys=[key], label=table["label"]),
    )
    seeds.append(seed)
    loopback = Loopback(lambda address: None)
    table["bind"] = loopback(table["bind"])
    assert table["join"], "the example has seeds"
    table["join"] = [seed.addr]
    table["metrics"] = loopback(table["metrics"])
    table["control"] = str(runtime / Path(table["control"]).relative_to("/run/rumor"))
    config = tmp_path / "agent.toml"
    config.write_text(toml_text(table))

    assert argv[0].endswith("/rumor") and argv[1] == "agent"
    at = argv.index("--config")
    assert argv[at + 1] == "/etc/rumor/agent.toml"
    argv[at + 1] = str(config)
    a = Agent(argv=[sys.executable, "-m", "rumor", *argv[1:]])
    agents.append(a)
    assert a.started["name"] == table["name"]
    assert a.started["encrypted"] is True
    assert a.next("join")["member"]["name"] == "seed"
    cli_until(0, "health", "--agent", a.started["control"])
    assert a.stop() == 0
    wait_until(lambda: any(m.name == table["name"] and m.state == "left" for m in seed.members()))


def yaml_lists(text: str, key: str) -> list[list[str]]:
    """Every block list under ``key:`` in ``text`` (``- item`` lines indented
    below it), items unquoted: enough of YAML for a container's command."""
    found: list[list[str]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != f"{key}:":
            continue
        indent = len(line) - len(line.lstrip())
        items: list[str] = []
        for below in lines[i + 1 :]:
            stripped = below.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if len(below) - len(below.lstrip()) <= indent or not stripped.startswith("- "):
                break
            item = stripped[2:].strip()
            if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
                item = item[1:-1]
            items.append(item)
        found.append(items)
    return found


def test_the_kubernetes_manifest_runs_its_agent_and_probe(
    agents: list[Agent], seeds: list[rumor.Node]
) -> None:
    """``kubernetes.yaml``: a headless Service that publishes not-ready pods,
    the pod IP from the downward API; the container's command, on loopback
    (pod IP 127.0.0.1, each seed's DNS name a running seed), starts an agent
    that joins the seeds, and the readiness probe's command then exits 0."""
    text = (DEPLOY / "kubernetes.yaml").read_text()
    documents = [d for d in text.split("\n---\n") if "kind:" in d]
    kinds = [re.search(r"^kind: (\w+)$", d, re.M) for d in documents]
    assert [k[1] for k in kinds if k] == ["Service", "StatefulSet"]
    service, stateful_set = documents
    assert re.search(r"^  clusterIP: None$", service, re.M)
    assert re.search(r"^  publishNotReadyAddresses: true$", service, re.M)
    assert re.search(r"^  serviceName: rumor-gossip$", stateful_set, re.M)
    assert "fieldPath: status.podIP" in stateful_set

    command, probe = yaml_lists(stateful_set, "command")
    assert command[:2] == ["rumor", "agent"] and probe[:2] == ["rumor", "health"]
    pod = {"POD_IP": LOCALHOST, "POD_NAME": "rumor-2", "POD_NAMESPACE": "default"}

    def expand(arg: str) -> str:
        return re.sub(r"\$\((\w+)\)", lambda m: pod[m[1]], arg)

    by_dns: dict[str, str] = {}

    def seed_for(value: str) -> str | None:
        host = value.rpartition(":")[0]
        if not host.endswith(".svc.cluster.local"):
            return None
        if host not in by_dns:
            name = host.split(".")[0]
            assert host == f"{name}.rumor-gossip.default.svc.cluster.local"
            node = rumor.Node(name=name, bind=f"{LOCALHOST}:0", config=rumor.Config.lan())
            seeds.append(node)
            by_dns[host] = node.addr
        return by_dns[host]

    loopback = Loopback(seed_for)
    argv = [loopback(expand(a)) for a in command]
    a = Agent(argv=[sys.executable, "-m", "rumor", *argv[1:]])
    agents.append(a)
    assert a.started["name"] == "rumor-2"
    assert sorted(by_dns) == [
        "rumor-0.rumor-gossip.default.svc.cluster.local",
        "rumor-1.rumor-gossip.default.svc.cluster.local",
    ]
    wait_until(lambda: {m.name for m in seeds[0].members(state="alive")} >= {"rumor-2"})
    ready = cli_until(0, *[loopback(expand(a)) for a in probe[1:]])
    assert ready.stdout.startswith("healthy: rumor-2 is alive")
    assert a.stop() == 0
