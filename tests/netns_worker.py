"""One rumor node in its own process, driven line by line over stdin/stdout.

Started by ``tests/test_netns.py`` inside a network namespace (one per
simulated host). It binds ``--bind``, and answers one JSON line per
command read from stdin:

- ``join ADDR``: joins through ADDR (``{"ok": true}`` or an error);
- ``members``: ``{"members": {name: state}}``;
- ``broadcast TEXT``: broadcasts TEXT;
- ``set KEY VALUE``: sets KEY of its replicated state;
- ``heard``: ``{"rumors": [...], "state": {member: {key: value}}}``;
- ``quit``: leaves and exits.
"""

from __future__ import annotations

import argparse
import json
import sys

import rumor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--bind", required=True)
    args = ap.parse_args()
    config = rumor.Config.local(
        probe_interval=0.2,
        probe_timeout=0.1,
        gossip_interval=0.05,
        push_pull_interval=2.0,
        reconnect_interval=1.0,
    )
    node = rumor.Node(name=args.name, bind=args.bind, config=config)
    rumors: list[str] = []
    node.on_rumor(lambda r: rumors.append(r.payload.decode()))

    def reply(obj: object) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    reply({"ready": node.addr})
    for line in sys.stdin:
        cmd, _, rest = line.strip().partition(" ")
        try:
            if cmd == "join":
                node.join(rest, timeout=10.0)
                reply({"ok": True})
            elif cmd == "members":
                reply({"members": {m.name: m.state.value for m in node.members()}})
            elif cmd == "broadcast":
                node.broadcast(rest.encode())
                reply({"ok": True})
            elif cmd == "set":
                key, _, value = rest.partition(" ")
                node.set(key, value)
                reply({"ok": True})
            elif cmd == "heard":
                state = {
                    m.name: {k: str(v) for k, v in node.key_values(m.name).items()}
                    for m in node.members()
                }
                reply({"rumors": list(rumors), "state": state})
            elif cmd == "quit":
                node.leave(timeout=2.0)
                node.close()
                reply({"ok": True})
                return
            else:
                reply({"error": f"unknown command {cmd!r}"})
        except rumor.RumorError as e:
            reply({"error": str(e)})


if __name__ == "__main__":
    main()
