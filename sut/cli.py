"""Command line: ``python -m sut --host H --port P [--db PATH] [--fault SPEC]...``.

The production-like profile: ``--backend postgres --pg-dsn DSN [--redis-url URL]``
(or ``SUT_BACKEND`` / ``SUT_PG_DSN`` / ``SUT_REDIS_URL``); ``--schema`` / ``--key-prefix``
name a schema / key prefix to keep across restarts (default: fresh ones, removed at exit).

Parses flags (and ``SUT_FAULTS``) once into Settings, builds the app and serves it
with uvicorn (uvloop, httptools, no access log: the access log halves throughput).
SIGTERM/SIGINT stop it cleanly with exit status 0; a bad flag or fault spec exits 2
with one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from sut.app import create_app
from sut.faults import FaultSpecError, parse_faults, split_env
from sut.settings import Settings

EXIT_OK = 0
EXIT_SERVE_FAILED = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """Bad command line; the message is the one line printed to stderr."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for ``--help`` and tests)."""
    p = _Parser(prog="python -m sut", description="The loadgate bundled betting SUT.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", type=Path, default=None, help="SQLite file (default: temp file)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--markets", type=int, default=20_000)
    p.add_argument("--bettors", type=int, default=5_000)
    p.add_argument("--agents", type=int, default=255)
    p.add_argument("--password", default="loadtest", help="password of every seeded user")
    p.add_argument("--secret", default=None, help="token signing secret (default: random)")
    p.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime, seconds")
    p.add_argument("--odds-rate", type=float, default=2000.0, help="odds moves/s; 0 = off")
    p.add_argument("--heartbeat", type=float, default=5.0, help="stream heartbeat, seconds")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="fault knob, repeatable (see sut/faults.py); also SUT_FAULTS='a;b'",
    )
    p.add_argument(
        "--db-threadpool",
        action="store_true",
        help="run every storage call in the threadpool (default: short ones inline)",
    )
    p.add_argument(
        "--backend",
        choices=("sqlite", "postgres"),
        default=None,
        help="storage backend (default sqlite; env SUT_BACKEND)",
    )
    p.add_argument("--pg-dsn", default=None, help="PostgreSQL DSN (env SUT_PG_DSN)")
    p.add_argument(
        "--redis-url",
        default=None,
        help="Redis URL: Redis Streams event bus + hierarchy cache (env SUT_REDIS_URL)",
    )
    p.add_argument(
        "--schema",
        default=None,
        help="PostgreSQL schema to use and keep (default: a fresh one, dropped at exit)",
    )
    p.add_argument(
        "--key-prefix",
        default=None,
        help="Redis key prefix to use and keep (default: a fresh one, deleted at exit)",
    )
    p.add_argument("--pg-pool-size", type=int, default=16)
    p.add_argument(
        "--statement-timeout", type=float, default=5.0, help="PostgreSQL statement timeout, seconds"
    )
    p.add_argument(
        "--pg-deadlock-timeout",
        type=float,
        default=None,
        help="PostgreSQL deadlock_timeout for the SUT's sessions, seconds (default: server's)",
    )
    p.add_argument("--log-level", default="warning")
    return p


def parse_settings(argv: Sequence[str], environ: dict[str, str]) -> tuple[Settings, str, int, str]:
    """Flags + environment -> (Settings, host, port, log level); raises on bad input."""
    args = build_parser().parse_args(list(argv))
    faults = parse_faults([*split_env(environ.get("SUT_FAULTS")), *args.fault])
    secret = args.secret or environ.get("SUT_SECRET")
    extra = {"secret": secret.encode()} if secret else {}
    try:
        settings = Settings(
            db_path=args.db,
            seed=args.seed,
            markets=args.markets,
            bettors=args.bettors,
            agents=args.agents,
            password=args.password,
            token_ttl_s=args.token_ttl,
            odds_rate=args.odds_rate,
            heartbeat_s=args.heartbeat,
            faults=faults,
            db_inline=not args.db_threadpool,
            backend=args.backend or environ.get("SUT_BACKEND", "sqlite"),
            pg_dsn=args.pg_dsn or environ.get("SUT_PG_DSN") or None,
            redis_url=args.redis_url or environ.get("SUT_REDIS_URL") or None,
            schema=args.schema,
            key_prefix=args.key_prefix,
            pg_pool_size=args.pg_pool_size,
            statement_timeout_ms=round(args.statement_timeout * 1000),
            pg_deadlock_timeout_ms=(
                None if args.pg_deadlock_timeout is None else round(args.pg_deadlock_timeout * 1000)
            ),
            **extra,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if not 0 <= args.port <= 65535:
        raise _UsageError(f"--port {args.port} is not a TCP port")
    return settings, args.host, args.port, args.log_level


class _Server(uvicorn.Server):
    """uvicorn.Server that does not re-raise the stop signal after a clean shutdown.

    Stock uvicorn re-raises SIGTERM once it has shut down, so the process would end
    "killed by signal" instead of exiting 0 as callers (the harness) expect.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; return the exit status (0 ok, 1 serve failed, 2 usage)."""
    try:
        settings, host, port, log_level = parse_settings(
            sys.argv[1:] if argv is None else argv, dict(os.environ)
        )
        app = create_app(settings)
    except (_UsageError, FaultSpecError) as exc:
        print(f"sut: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=log_level,
        lifespan="on",
        ws_max_size=65_536,
        backlog=4096,
        timeout_keep_alive=30,
    )
    server = _Server(config)
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits 3 when it cannot bind or start
        return EXIT_SERVE_FAILED if exc.code else EXIT_OK
    return EXIT_OK if server.started else EXIT_SERVE_FAILED
