"""LeanHttpUser's client against a real server on 127.0.0.1 that misbehaves on purpose.

The client runs under gevent, so each case runs in a subprocess (monkey-patching stays there);
the server is a plain asyncio server in another process, speaking raw HTTP/1.1 so every
framing can be produced exactly: keep-alive, a connection dropped while idle, chunked and
close-delimited bodies, an interim 100 response, HEAD, a server that never answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import python

ROOT = Path(__file__).resolve().parents[2]


SERVER = textwrap.dedent(
    """
    import asyncio, json, sys

    LOG = open(sys.argv[1], "a", buffering=1)

    async def handle(reader, writer):
        LOG.write(json.dumps({"connection": 1}) + "\\n")
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                lines = head.decode("latin-1").split("\\r\\n")
                method, path, _ = lines[0].split(" ")
                headers = {k.lower(): v for k, _, v in (x.partition(": ") for x in lines[1:] if x)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = f"{method} {path} {headers.get('x-n', '')}"
                LOG.write(json.dumps({"request": seen}) + "\\n")
                if not await answer(method, path, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def answer(method, path, body, w):
        def plain(status, payload, extra=""):
            head = f"HTTP/1.1 {status}\\r\\nContent-Length: {len(payload)}\\r\\n{extra}\\r\\n"
            w.write(head.encode() + (payload if method != "HEAD" else b""))
        if path == "/ok":
            plain("200 OK", b'{"ok": true}', "Server-Timing: app;dur=1.5\\r\\n")
        elif path == "/echo":
            plain("201 Created", body)
        elif path == "/idle-drop":  # answers, then drops the connection while it is idle
            plain("200 OK", b"first")
            await w.drain()
            return False
        elif path == "/chunked":
            w.write(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n")
            w.write(b"5\\r\\nhello\\r\\n6\\r\\n world\\r\\n0\\r\\n\\r\\n")
        elif path == "/until-close":
            w.write(b"HTTP/1.1 200 OK\\r\\nConnection: close\\r\\n\\r\\nall of it")
            await w.drain()
            return False
        elif path == "/interim":
            w.write(b"HTTP/1.1 100 Continue\\r\\n\\r\\n")
            await w.drain()
            plain("200 OK", b"after 100")
        elif path == "/missing":
            plain("404 Not Found", b'{"error": "no"}')
        elif path == "/close":
            plain("200 OK", b"bye", "Connection: close\\r\\n")
            await w.drain()
            return False
        elif path == "/slow":
            await asyncio.sleep(0.05)
            plain("200 OK", b"late")
        elif path == "/never":
            await asyncio.sleep(30)
        elif path == "/garbage":
            w.write(b"NOT HTTP AT ALL\\r\\n\\r\\n")
            await w.drain()
            return False
        await w.drain()
        return True

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(120)  # bounded: the test stops it long before

    asyncio.run(main())
    """
)


class RawServer:
    """A raw HTTP/1.1 server in its own process that answers by path and logs what it saw."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(log)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def _entries(self, key: str) -> list[object]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [e[key] for e in map(json.loads, lines) if key in e]

    @property
    def connections(self) -> int:
        return len(self._entries("connection"))

    @property
    def requests(self) -> list[str]:
        return [str(r) for r in self._entries("request")]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RawServer]:
    s = RawServer(tmp_path / "server.log")
    yield s
    s.stop()


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python process of its own (Locust patches whatever imports it)."""
    return python("-c", code, timeout=60)


def run_client(port: int, body: str) -> dict[str, object]:
    """Run ``body`` with ``session`` (a LeanSession on the server) and ``events`` (every fired
    request event) under gevent; return what it prints as JSON."""
    code = (
        textwrap.dedent(
            """
        from gevent import monkey; monkey.patch_all()
        import json, sys
        from locust.event import EventHook
        from scenarios.leanhttp import LeanSession, _Watchdog
        import scenarios.leanhttp as lean
        lean._Watchdog.EVERY_S = 0.05
        events = []
        hook = EventHook()
        hook.add_listener(lambda **kw: events.append(kw))
        session = LeanSession(f"http://127.0.0.1:{PORT}", hook, None, network_timeout=0.5)
        out = {}
        def event(i):
            e = events[i]
            return {"name": e["name"], "type": e["request_type"], "length": e["response_length"],
                    "error": None if e["exception"] is None else str(e["exception"]),
                    "ms": e["response_time"], "url": e["url"]}
        """
        ).replace("{PORT}", str(port))
        + textwrap.dedent(body)
        + "\nprint(json.dumps(out))\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_requests_reuse_one_connection_and_fire_one_event_each(server: RawServer) -> None:
    out = run_client(
        server.port,
        """
        for i in range(5):
            r = session.get("/ok", name="ok", headers={"X-N": str(i)})
        out["status"] = r.status_code
        out["json"] = r.json()
        out["timing"] = r.headers["server-timing"]
        out["events"] = [event(i) for i in range(len(events))]
        """,
    )
    assert out["status"] == 200 and out["json"] == {"ok": True}
    assert out["timing"] == "app;dur=1.5"
    assert server.connections == 1
    assert [r.split()[-1] for r in server.requests] == ["0", "1", "2", "3", "4"]
    events = out["events"]
    assert isinstance(events, list) and len(events) == 5
    assert events[0]["name"] == "ok" and events[0]["type"] == "GET"
    assert events[0]["error"] is None and events[0]["length"] == len(b'{"ok": true}')
    assert events[0]["url"].endswith("/ok")


@pytest.mark.slow
def test_a_connection_dropped_while_idle_is_replaced_and_the_request_sent_once(
    server: RawServer,
) -> None:
    out = run_client(
        server.port,
        """
        first = session.get("/idle-drop")
        import gevent; gevent.sleep(0.2)  # the server has closed it by now
        second = session.post("/echo", json={"bet": 1})
        out["first"], out["second"] = first.content.decode(), second.json()
        out["errors"] = [event(i)["error"] for i in range(len(events))]
        """,
    )
    assert out["first"] == "first" and out["second"] == {"bet": 1}
    assert out["errors"] == [None, None]
    assert server.connections == 2
    assert sum(r.startswith("POST /echo") for r in server.requests) == 1  # never sent twice


@pytest.mark.slow
def test_every_framing_is_read_whole(server: RawServer) -> None:
    out = run_client(
        server.port,
        """
        out["chunked"] = session.get("/chunked").content.decode()
        out["interim"] = session.get("/interim").content.decode()
        head = session.request("HEAD", "/ok")
        out["head"] = [head.status_code, head.content.decode(), head.headers["content-length"]]
        out["after_head"] = session.get("/ok").status_code
        out["close"] = session.get("/close").content.decode()
        out["until_close"] = session.get("/until-close").content.decode()
        out["again"] = session.get("/ok").status_code
        """,
    )
    assert out["chunked"] == "hello world"
    assert out["interim"] == "after 100"
    assert out["head"] == [200, "", "12"]
    assert out["after_head"] == 200
    assert out["close"] == "bye" and out["until_close"] == "all of it"
    assert out["again"] == 200


@pytest.mark.slow
def test_failures_are_events_with_their_reason(server: RawServer) -> None:
    out = run_client(
        server.port,
        """
        session.get("/missing", name="missing")
        session.get("/garbage", name="garbage")
        session.get("/never", name="never")
        dead = LeanSession("http://127.0.0.1:1", hook, None)
        r = dead.get("/ok", name="refused")
        out["refused_status"] = r.status_code
        out["events"] = [event(i) for i in range(len(events))]
        """,
    )
    errors = {e["name"]: e["error"] for e in out["events"]}  # type: ignore[union-attr]
    assert errors["missing"] == "HTTP 404"
    assert "not an HTTP response" in errors["garbage"]
    assert errors["never"] == "no response within 0.5 s"
    never = next(e for e in out["events"] if e["name"] == "never")  # type: ignore[union-attr]
    assert 400 <= never["ms"] < 2_000  # ended by the watchdog, not by the server's 30 s
    assert "refused" in errors["refused"].lower() or "Errno 111" in errors["refused"]
    assert out["refused_status"] == 0


@pytest.mark.slow
def test_catch_response_decides_the_outcome_and_fires_once(server: RawServer) -> None:
    out = run_client(
        server.port,
        """
        with session.get("/missing", name="expected", catch_response=True) as r:
            r.request_meta["context"]["outcome"] = "not_found"
            r.success()
        with session.get("/ok", name="rejected", catch_response=True) as r:
            r.failure("wrong body")
        with session.get("/ok", name="plain", catch_response=True) as r:
            pass
        try:
            with session.get("/ok", name="raised", catch_response=True) as r:
                raise KeyError("bug in the scenario")
        except KeyError:
            out["propagated"] = True
        out["events"] = [event(i) for i in range(len(events))]
        out["context"] = events[0]["context"]
        """,
    )
    errors = {e["name"]: e["error"] for e in out["events"]}  # type: ignore[union-attr]
    assert len(out["events"]) == 4  # type: ignore[arg-type]
    assert errors == {
        "expected": None,
        "rejected": "wrong body",
        "plain": None,
        "raised": "'bug in the scenario'",
    }
    assert out["context"] == {"outcome": "not_found"}
    assert out["propagated"] is True


def test_bad_requests_are_refused_before_anything_is_sent() -> None:
    code = textwrap.dedent(
        """
        from gevent import monkey; monkey.patch_all()
        from locust.event import EventHook
        from scenarios.leanhttp import LeanSession
        s = LeanSession("http://127.0.0.1:9", EventHook(), None)
        for bad in (lambda: s.get("http://elsewhere/x"),
                    lambda: s.get("/x", headers={"A": "b\\r\\nC: d"}),
                    lambda: LeanSession("ftp://x", EventHook(), None)):
            try:
                bad(); print("accepted")
            except ValueError as exc:
                print("refused:", exc)
        """
    )
    proc = _python(code)
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("refused:") for line in lines), proc.stderr


@pytest.mark.slow
def test_the_generators_own_delay_is_measured_per_request(server: RawServer) -> None:
    """The server answers after 50 ms, while another greenlet blocks the hub from 10 ms to
    210 ms: the request's latency is ~210 ms, and the kernel's receive stamp says ~160 ms of
    it were the generator's, not the server's."""
    out = run_client(
        server.port,
        """
        import gevent
        from gevent import monkey
        block = monkey.get_original("time", "sleep")  # the real sleep: the whole hub stops
        quiet = session.get("/ok")
        def hog():
            gevent.sleep(0.01)  # let the request go out first
            block(0.2)
        g = gevent.spawn(hog)
        late = session.get("/slow")
        g.join()
        out["quiet"] = quiet.generator_delay_ms
        out["late"] = late.generator_delay_ms
        out["late_ms"] = events[-1]["response_time"]
        out["event_delay"] = events[-1]["generator_delay_ms"]
        """,
    )
    if out["quiet"] is None:
        pytest.skip("this platform gives no kernel receive stamps")
    assert out["quiet"] < 5
    assert 130 <= out["late"] <= out["late_ms"] - 40  # type: ignore[operator]
    assert out["event_delay"] == out["late"]  # fired with the request event, for the recorder
