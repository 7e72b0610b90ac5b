"""Node lifetime: garbage collection, interpreter exit, asyncio."""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import sys
import textwrap

import pytest
import rumor
from support import LOCALHOST, Cluster, fast_config, wait_until


def _port_free(addr: str) -> bool:
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, int(port)))
    except OSError:
        return False
    finally:
        s.close()
    return True


def test_unreferenced_node_is_closed_and_frees_its_port() -> None:
    """A Node dropped without close() is collected and its socket released."""
    node = rumor.Node(bind=f"{LOCALHOST}:0", config=fast_config())
    addr = node.addr
    assert not _port_free(addr)
    del node
    gc.collect()
    wait_until(lambda: _port_free(addr), 10.0, f"{addr} still bound after the Node was dropped")


def test_interpreter_exit_with_open_nodes_neither_hangs_nor_aborts() -> None:
    """Exiting Python with joined, open nodes and busy callbacks exits cleanly."""
    script = textwrap.dedent(
        """
        import time, rumor
        c = rumor.Config.local(probe_interval=0.2, probe_timeout=0.1, gossip_interval=0.05)
        nodes = [rumor.Node(name=f"n{i}", config=c) for i in range(4)]
        for n in nodes:
            n.on_join(lambda m: time.sleep(0.05))
        for n in nodes[1:]:
            n.join(nodes[0].addr)
        nodes[3].close()
        print("exiting", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "exiting" in done.stdout
    assert "Fatal" not in done.stderr and "panicked" not in done.stderr, done.stderr


def test_join_and_leave_are_awaitable(cluster: Cluster) -> None:
    """join_async and leave_async work inside a running event loop."""
    seed = cluster.start("seed")
    other = cluster.start("other")

    async def scenario() -> None:
        assert await other.join_async(seed.addr, timeout=5.0) == 1
        with pytest.raises(rumor.JoinError):
            await other.join_async(f"{LOCALHOST}:9", timeout=0.3)
        await other.leave_async(timeout=5.0)

    asyncio.run(scenario())
    wait_until(
        lambda: any(
            m.name == "other" and m.state is rumor.MemberState.LEFT for m in seed.members()
        ),
        message="the seed did not see 'other' leave",
    )
