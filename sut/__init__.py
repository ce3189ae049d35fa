"""The bundled betting system-under-test of loadgate.

An ASGI betting backend (Starlette on uvicorn, SQLite in WAL mode) with markets, bets,
wallets, an agent hierarchy with pre-aggregated dashboards, an odds stream and fault
knobs. It imports neither ``loadgate`` nor ``locust``. Example::

    import sut
    app = sut.create_app(sut.Settings(markets=200, bettors=50, agents=10))
    sut.main(["--port", "8001", "--fault", "latency:POST /bets=40ms"])  # serves
"""

from sut.app import create_app
from sut.cli import main
from sut.faults import FaultSet, FaultSpecError, parse_faults
from sut.settings import Settings

__all__ = ["FaultSet", "FaultSpecError", "Settings", "create_app", "main", "parse_faults"]
