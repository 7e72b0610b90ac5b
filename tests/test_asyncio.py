"""asyncio: typed event streams, async callbacks, awaitable waits, on loopback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import pytest
import rumor
from support import LOCALHOST, Unraisable, fast_config, wait_until

DEADLINE = 30.0


def start(name: str) -> rumor.Node:
    return rumor.Node(name=name, bind=f"{LOCALHOST}:0", config=fast_config())


async def collect(
    stream: rumor.EventStream, until: int, kinds: tuple[type, ...]
) -> list[rumor.Event]:
    """Events of ``kinds`` from ``stream`` until ``until`` of them arrived;
    fails after DEADLINE."""

    async def gather() -> list[rumor.Event]:
        got: list[rumor.Event] = []
        async for event in stream:
            if isinstance(event, kinds):
                got.append(event)
                if len(got) >= until:
                    break
        return got

    return await asyncio.wait_for(gather(), DEADLINE)


def test_two_streams_see_every_join_and_the_failure_of_a_16_node_cluster() -> None:
    """Two consumers iterating at once each see all 15 joins, then the
    failure, as typed, hashable events carrying the member."""

    def steady(name: str) -> rumor.Node:
        # The local preset's 1 s probes: no false failure under load, so the
        # events are exactly 15 joins and one failure.
        return rumor.Node(name=name, bind=f"{LOCALHOST}:0", config=rumor.Config.local())

    async def main() -> None:
        seed = steady("a00")
        others = [steady(f"a{i:02d}") for i in range(1, 16)]
        try:
            first, second = seed.events(), seed.events()
            consumers = [
                asyncio.create_task(collect(s, 16, (rumor.Joined, rumor.Failed)))
                for s in (first, second)
            ]
            await asyncio.gather(*(node.join_async(seed.addr, timeout=10.0) for node in others))
            await seed.wait_for_members(16, timeout=DEADLINE)
            victim = others[7]
            victim.close()
            for events in await asyncio.wait_for(asyncio.gather(*consumers), DEADLINE):
                joins = [e for e in events if isinstance(e, rumor.Joined)]
                fails = [e for e in events if isinstance(e, rumor.Failed)]
                assert sorted(e.member.name for e in joins) == sorted(n.name for n in others)
                assert [e.member.name for e in fails] == [victim.name]
                assert fails[0].member.state is rumor.MemberState.DEAD
                assert len(set(events)) == len(events), "events are hashable, none twice"
                assert repr(fails[0]).startswith(f"Failed(member=Member(name={victim.name!r}")
            assert first.dropped == second.dropped == 0
        finally:
            for node in [seed, *others]:
                node.close()

    asyncio.run(main())


def test_updates_and_rumors_arrive_typed() -> None:
    """A state change and a broadcast arrive as Updated and RumorReceived,
    with the member they come from."""

    async def main() -> None:
        a, b = start("u0"), start("u1")
        try:
            await b.join_async(a.addr)
            stream = a.events()
            b.set("color", "blue")
            b.broadcast(b"hi")
            got = await collect(stream, 2, (rumor.Updated, rumor.RumorReceived))
            updated = next(e for e in got if isinstance(e, rumor.Updated))
            received = next(e for e in got if isinstance(e, rumor.RumorReceived))
            assert (updated.member.name, updated.key, updated.value) == ("u1", "color", "blue")
            assert (received.member.name, received.payload) == ("u1", b"hi")
            b.set("color", "red")  # after aclose: never seen
            await stream.aclose()
            assert [e async for e in stream] == [], "a closed stream ends"
            assert [e async for e in stream] == [], "and stays ended"
        finally:
            a.close()
            b.close()

    asyncio.run(main())


def test_async_callbacks_run_on_the_loop_the_node_was_made_in(unraisable: Unraisable) -> None:
    """An async def on_join runs as a task of the node's loop, on its thread;
    one that raises is reported and later ones still run."""

    async def main() -> None:
        loop_thread = threading.get_ident()
        seen: list[tuple[str, int, bool]] = []
        done = asyncio.Event()
        a = start("c0")
        try:

            @a.on_join
            async def joined(member: rumor.Member) -> None:
                if member.name == "c1":
                    raise RuntimeError("boom")
                running = asyncio.current_task() is not None
                seen.append((member.name, threading.get_ident(), running))
                done.set()

            b, c = start("c1"), start("c2")
            try:
                await b.join_async(a.addr)
                await c.join_async(a.addr)
                await asyncio.wait_for(done.wait(), DEADLINE)
                assert seen == [("c2", loop_thread, True)]
            finally:
                b.close()
                c.close()
        finally:
            a.close()

    asyncio.run(main())
    reported = [args.exc_value for args in unraisable.reports]
    assert any(isinstance(e, RuntimeError) and str(e) == "boom" for e in reported)


def test_an_async_callback_needs_a_loop() -> None:
    """Outside a running loop, registering an async def callback is a TypeError."""
    node = start("l0")
    try:

        async def cb(member: rumor.Member) -> None:
            pass

        with pytest.raises(TypeError, match="event loop"):
            node.on_join(cb)
    finally:
        node.close()


def test_an_async_callback_whose_loop_has_closed_is_reported() -> None:
    """An async def callback cannot run once the loop its node was made in
    has closed: a RuntimeWarning says so, naming the callback."""

    async def make() -> rumor.Node:
        node = start("w0")

        @node.on_join
        async def greet(member: rumor.Member) -> None:
            pass

        return node

    node = asyncio.run(make())
    other = start("w1")
    try:
        with pytest.warns(RuntimeWarning) as record:
            other.join(node.addr)
            wait_until(lambda: len(record) > 0, 10.0, "no warning")
            node.close()
        text = str(record[0].message)
        assert "on_join callback" in text and ".make.<locals>.greet of node 'w0'" in text, text
        assert "event loop" in text and "closed" in text, text
    finally:
        node.close()
        other.close()


def test_a_coroutine_returned_without_a_loop_is_reported() -> None:
    """A plain callback that returns a coroutine, on a node made outside an
    event loop, gets a RuntimeWarning naming it: the coroutine is never
    awaited."""

    async def later() -> None:
        pass

    def plain(member: rumor.Member) -> object:
        return later()

    node, other = start("v0"), start("v1")
    node.on_join(plain)
    try:
        with pytest.warns(RuntimeWarning) as record:
            other.join(node.addr)
            wait_until(lambda: len(record) > 0, 10.0, "no warning")
            node.close()
        text = str(record[0].message)
        assert ".<locals>.plain of node 'v0'" in text, text
        assert "never awaited" in text and "outside" in text, text
    finally:
        node.close()
        other.close()


def test_a_slow_consumer_is_bounded_and_counted() -> None:
    """A stream nobody reads keeps at most maxsize events and counts the rest;
    the node and the other streams are unaffected."""

    async def main() -> None:
        seed = start("s0")
        others = [start(f"s{i}") for i in range(1, 7)]
        try:
            slow, fast = seed.events(maxsize=2), seed.events()
            reader = asyncio.create_task(collect(fast, 6, (rumor.Joined,)))
            for node in others:
                await node.join_async(seed.addr)
            assert len(await asyncio.wait_for(reader, DEADLINE)) == 6
            assert slow.dropped >= 4
            kept = [await slow.__anext__(), await slow.__anext__()]
            assert all(isinstance(e, rumor.Joined) for e in kept)
        finally:
            for node in [seed, *others]:
                node.close()

    asyncio.run(main())


def test_wait_for_members_times_out_with_the_count() -> None:
    async def main() -> None:
        node = start("w0")
        try:
            with pytest.raises(rumor.TimeoutError, match="1 of 3"):
                await node.wait_for_members(3, timeout=0.3)
        finally:
            node.close()

    asyncio.run(main())


def test_streams_of_a_finished_loop_are_let_go() -> None:
    """A stream left open when its event loop ends is dropped by the node at
    its next event, not kept (and fed) for the node's lifetime."""
    node, other = start("g0"), start("g1")
    try:

        async def open_and_leave() -> None:
            node.events()

        asyncio.run(open_and_leave())
        assert len(node._streams) == 1
        other.join(node.addr)
        wait_until(lambda: node._streams == [], message=lambda: "the dead stream was kept")
    finally:
        node.close()
        other.close()


def test_a_program_without_an_event_loop_does_not_load_asyncio() -> None:
    """asyncio and the ssl module it loads are a third of a small agent's
    memory: ``import rumor``, the agent's module and a running node leave
    them unloaded (and http.server, which loads ssl too, until ``--metrics``
    asks for it); they load only when a program uses them."""
    code = (
        "import sys, rumor, rumor.agent\n"
        f"node = rumor.Node(bind='{LOCALHOST}:0')\n"
        "node.on_join(lambda m: None)\n"
        "node.close()\n"
        "print(sorted(m for m in ('asyncio', 'ssl', 'http.server') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
