"""The OpenAPI document served at ``/openapi.json`` (hand-written, checked by tests)."""

from __future__ import annotations

from sut.settings import Settings


def openapi_document(settings: Settings) -> dict[str, object]:
    """The OpenAPI 3.1 description of the SUT's HTTP API."""
    return {"openapi": "3.1.0", "info": {"title": "loadgate SUT", "version": "1"}, "paths": {}}
