"""A delaying TCP proxy for studies (not a test): put it in front of an already-running SUT and
it holds every request of one endpoint for a fixed time before passing it on, so a regression
reaches the harness exactly as a slower server would send it, with no change to the SUT.

    python benchmarks/delay_proxy.py --listen 8100 --upstream 8000 \\
        --delay "POST /bets=0.4ms" --for 10m

Bytes pass through unchanged both ways (keep-alive HTTP and WebSocket streams alike). A client
chunk that starts with the request line's ``METHOD /path`` (followed by a space or ``?``) is
held ``delay`` before it is forwarded: the load tools send one request at a time per
connection, so the chunk is that request. The hold is precise below a millisecond (the bulk
slept, the rest yielded for), as the SUT's own latency fault is. It listens on 127.0.0.1 only
and stops by itself after ``--for``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgate.durations import parse_duration
from sut.http.instrument import precise_sleep

_DELAY = re.compile(r"^(?P<method>[A-Z]+) (?P<path>/\S*)=(?P<ms>\d+(?:\.\d+)?)ms$")
_CHUNK = 65536


def parse_delay(spec: str) -> tuple[bytes, float]:
    """``"POST /bets=0.4ms"`` -> (b"POST /bets", 0.0004).

    >>> parse_delay("POST /bets=0.4ms")
    (b'POST /bets', 0.0004)
    """
    m = _DELAY.match(spec.strip())
    if m is None:
        raise argparse.ArgumentTypeError(
            f"expected 'METHOD /path=N ms' like 'POST /bets=0.4ms', got {spec!r}"
        )
    return f"{m['method']} {m['path']}".encode(), float(m["ms"]) / 1000


def held(chunk: bytes, prefix: bytes) -> bool:
    """Whether a client chunk is a request of the delayed endpoint (not ``/bets/...``).

    >>> held(b"POST /bets HTTP/1.1", b"POST /bets"), held(b"POST /bets/9 HTTP/1.1", b"POST /bets")
    (True, False)
    """
    return chunk.startswith(prefix) and chunk[len(prefix) : len(prefix) + 1] in (b" ", b"?")


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: tuple[bytes, float] | None,
) -> None:
    try:
        while chunk := await reader.read(_CHUNK):
            if delay is not None and held(chunk, delay[0]):
                await precise_sleep(delay[1])
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def serve(
    listen: int, upstream: int, delay: tuple[bytes, float] | None, seconds: float
) -> None:
    async def connection(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pump(client_r, server_w, delay), _pump(server_r, client_w, None))

    server = await asyncio.start_server(connection, "127.0.0.1", listen, backlog=1024)
    print(f"proxy 127.0.0.1:{listen} -> 127.0.0.1:{upstream}, delay {delay}", flush=True)
    async with server:
        await asyncio.sleep(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--delay", type=parse_delay, default=None, help="e.g. 'POST /bets=0.4ms'")
    parser.add_argument("--for", dest="seconds", type=parse_duration, default=600.0)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.upstream, args.delay, args.seconds))


if __name__ == "__main__":
    main()
