"""The /healthz and /metrics listener under a slowloris: a connection cap and a per-connection deadline
keep its file descriptors bounded and a real health check answered (issue 15, item 6)."""

from __future__ import annotations

import asyncio
import os

from monitor.ops.metrics import HealthServer, Metrics

CAP = 8
SLOW = 40  # slow connections opened: five times the cap


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def slow_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that starts a request and never finishes its headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
    await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), timeout=10) == b""
    except ConnectionError:
        return True


def test_a_slowloris_past_the_cap_neither_exhausts_descriptors_nor_blocks_a_health_check() -> None:
    async def scenario() -> None:
        server = HealthServer("127.0.0.1:0", Metrics(), lambda: (True, "ok"), max_connections=CAP, deadline=2.0)
        await server.start()
        other = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        try:
            before = open_fds()
            slow = [await slow_client(server.port) for _ in range(SLOW)]
            await asyncio.sleep(0.2)
            assert server.server is not None and server.server.open_connections <= CAP
            # the clients' own sockets, plus at most the cap on the server's side
            assert open_fds() - before <= SLOW + CAP + 2
            assert await asyncio.wait_for(get(server.port, "/healthz"), timeout=5) == (200, b"ok\n")
            # other sockets of the process still open: an outgoing connection works
            r, w = await asyncio.open_connection("127.0.0.1", other.sockets[0].getsockname()[1])
            w.close()
            closed = await asyncio.gather(*(closed_by_server(reader) for reader, _ in slow))
            assert all(closed)  # evicted at the cap or closed at the deadline, never left open
            for _, writer in slow:
                writer.close()
        finally:
            other.close()
            await server.stop()

    asyncio.run(scenario())


def test_a_connection_that_never_finishes_its_request_is_closed_at_the_deadline() -> None:
    async def scenario() -> None:
        server = HealthServer("127.0.0.1:0", Metrics(), lambda: (True, "ok"), max_connections=CAP, deadline=1.0)
        await server.start()
        try:
            reader, writer = await slow_client(server.port)
            for _ in range(5):  # trickle a header byte now and then, as a slowloris does
                await asyncio.sleep(0.3)
                if reader.at_eof():
                    break
                try:
                    writer.write(b"a")
                    await writer.drain()
                except ConnectionError:
                    break
            assert await closed_by_server(reader)
            writer.close()
            assert server.server is not None and server.server.open_connections == 0
        finally:
            await server.stop()

    asyncio.run(scenario())
