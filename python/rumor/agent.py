"""``rumor agent``: one node as a process, and the control socket that
``rumor members`` and ``rumor broadcast`` talk to.

The agent prints one JSON object per line on stdout for each event, and
leaves the cluster gracefully on SIGTERM or SIGINT before it exits. With
``--control`` it listens on a loopback ``host:port`` or a Unix socket path
for one-line commands (``members``, ``broadcast <text>``, ``join <seed>...``,
``stats``), each answered with JSON lines and the connection closed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
from typing import Any

from rumor._native import Config
from rumor.errors import RumorError
from rumor.member import Accusation, Member
from rumor.news import Rumor, Value
from rumor.node import Node

__all__ = ["add_arguments", "read_keys", "request", "run"]

_PRESETS = {"lan": Config.lan, "local": Config.local, "wan": Config.wan}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", required=True, help="host:port to gossip on")
    parser.add_argument("--name", help="unique member name (default: the bind address)")
    parser.add_argument(
        "--join", action="append", default=[], metavar="SEED", help="seed address (repeatable)"
    )
    parser.add_argument("--preset", choices=sorted(_PRESETS), default="lan")
    parser.add_argument(
        "--failure-detector",
        choices=["swim", "quorum"],
        help="swim (the default: SWIM with Lifeguard) or quorum (Redis Cluster's PFAIL/FAIL)",
    )
    parser.add_argument(
        "--node-timeout",
        type=float,
        metavar="SECONDS",
        help="the quorum detector's timeout (default 15)",
    )
    parser.add_argument(
        "--key-file",
        help="file with encryption keys, one per line as 64 hex digits, the primary first",
    )
    parser.add_argument("--label", default="", help="cluster label (needs --key-file)")
    parser.add_argument(
        "--control", help="loopback host:port or Unix socket path for rumor members/broadcast"
    )


def read_keys(path: str) -> list[bytes]:
    """Keys from ``path``: 64 hex digits per line, the primary first; blank
    lines and ``#`` comments are ignored."""
    keys: list[bytes] = []
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                key = bytes.fromhex(text)
            except ValueError:
                raise ValueError(f"{path}:{number}: a key must be 64 hex digits") from None
            if len(key) != 32:
                raise ValueError(f"{path}:{number}: a key must be 64 hex digits (32 bytes)")
            keys.append(key)
    if not keys:
        raise ValueError(f"{path}: no key in the file")
    return keys


def _member(m: Member) -> dict[str, Any]:
    return {
        "name": m.name,
        "addr": m.addr,
        "state": m.state.value,
        "incarnation": m.incarnation,
        "meta": m.meta.hex(),
    }


def _value(v: Value | None) -> dict[str, Any]:
    """A state value as JSON fields: ``value`` and its ``encoding`` (``text``,
    or ``hex`` for bytes; ``null`` once deleted)."""
    if v is None:
        return {"value": None, "encoding": None}
    if isinstance(v, bytes):
        return {"value": v.hex(), "encoding": "hex"}
    return {"value": v, "encoding": "text"}


class _Printer:
    """JSON lines on stdout, one writer at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": round(time.time(), 3), "event": event, **fields})
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def _control_server(node: Node, where: str) -> socketserver.BaseServer:
    """Serves ``members``, ``broadcast <text>``, ``join <seed>...`` and
    ``stats`` on ``where``."""

    class Handler(socketserver.StreamRequestHandler):
        timeout = 10.0  # an idle client does not hold a thread forever

        def handle(self) -> None:
            try:
                raw = self.rfile.readline(1 << 20)
            except OSError:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            cmd, _, rest = line.partition(" ")
            try:
                if cmd == "members":
                    out = [_member(m) for m in node.members()]
                elif cmd == "broadcast":
                    out = [{"seq": node.broadcast(rest.encode())}]
                elif cmd == "join":
                    seeds = rest.split()
                    if not seeds:
                        raise ValueError("join needs at least one seed address")
                    out = [{"joined": node.join(seeds, timeout=10.0)}]
                elif cmd == "stats":
                    out = [node.stats()]
                else:
                    out = [{"error": f"unknown command {cmd!r}"}]
            except (RumorError, ValueError) as e:
                out = [{"error": str(e)}]
            for obj in out:
                self.wfile.write((json.dumps(obj) + "\n").encode())

    server: socketserver.BaseServer
    if ":" in where and not where.startswith(("/", ".")):
        host, port = where.rsplit(":", 1)
        if not _is_loopback(host):
            raise ValueError(f"--control must be a loopback address or a socket path, got {where}")
        host = host.strip("[]")
        tcp = _TCP6 if ":" in host else socketserver.ThreadingTCPServer
        server = tcp((host, int(port)), Handler)
    else:
        if os.path.exists(where):
            if not stat.S_ISSOCK(os.lstat(where).st_mode):
                raise ValueError(f"--control {where} exists and is not a socket")
            os.unlink(where)  # a stale socket of an earlier agent
        server = socketserver.ThreadingUnixStreamServer(where, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="rumor-control", daemon=True).start()
    return server


class _TCP6(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(str(i[4][0]).startswith("127.") or str(i[4][0]) == "::1" for i in infos)


def request(agent: str, command: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Sends ``command`` to the agent's control socket; its JSON answers."""
    if ":" in agent and not agent.startswith(("/", ".")):
        host, port = agent.rsplit(":", 1)
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(agent)
    with sock, sock.makefile("rwb") as f:
        f.write((command + "\n").encode())
        f.flush()
        return [json.loads(line) for line in f]


def run(args: argparse.Namespace) -> int:
    """Runs the agent until SIGTERM or SIGINT; returns the exit status."""
    overrides: dict[str, Any] = {}
    if args.key_file:
        overrides["keys"] = read_keys(args.key_file)
        overrides["label"] = args.label
    elif args.label:
        print("rumor agent: --label needs --key-file", file=sys.stderr)
        return 2
    if args.failure_detector is not None:
        overrides["failure_detector"] = args.failure_detector
    if args.node_timeout is not None:
        overrides["node_timeout"] = args.node_timeout
    try:
        config = _PRESETS[args.preset](**overrides)
    except ValueError as e:
        print(f"rumor agent: {e}", file=sys.stderr)
        return 2
    emit = _Printer()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node = Node(name=args.name, bind=args.bind, config=config)
    for kind in ("join", "leave", "fail", "suspect", "alive"):
        register = getattr(node, f"on_{kind}")
        register(lambda m, kind=kind: emit(kind, member=_member(m)))
    node.on_rumor(lambda r: emit("rumor", origin=r.origin, seq=r.seq, **_payload(r)))
    node.on_update(
        lambda member, key, value: emit("update", member=member, key=key, **_value(value))
    )
    node.on_refute(lambda a: emit("refute", state=_accused(a), incarnation=a.incarnation))
    try:
        server = _control_server(node, args.control) if args.control else None
    except (ValueError, OSError) as e:
        print(f"rumor agent: --control {args.control}: {e}", file=sys.stderr)
        node.close()
        return 2
    control = None
    if server is not None:
        where = server.server_address
        control = f"{where[0]}:{where[1]}" if isinstance(where, tuple) else str(where)
    emit("started", name=node.name, addr=node.addr, encrypted=bool(args.key_file), control=control)
    status = 0
    try:
        if args.join:
            try:
                node.join(args.join, timeout=10.0)
            except RumorError as e:
                emit("join_failed", error=str(e))
                status = 1
                stop.set()
        # No timeout: an idle agent does not wake up at all. A signal
        # interrupts the wait, and its handler sets the event.
        stop.wait()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
            if isinstance(server.server_address, str):
                os.unlink(server.server_address)  # the Unix socket this agent made
        try:
            node.leave(timeout=5.0)
        except RumorError as e:
            emit("leave_incomplete", error=str(e))
        node.close()
        emit("stopped", name=node.name)
    return status


def _payload(r: Rumor) -> dict[str, Any]:
    """A rumor's payload as JSON fields: UTF-8 text as is, other bytes in hex,
    with ``encoding`` saying which."""
    try:
        return {"payload": r.payload.decode("utf-8"), "encoding": "text"}
    except UnicodeDecodeError:
        return {"payload": r.payload.hex(), "encoding": "hex"}


def _accused(a: Accusation) -> str:
    return a.state.value
