"""Storage backends behind one backend-neutral interface (domain objects in and out)."""

from sut.storage.base import PriceCheck, Storage
from sut.storage.sqlite import SQLiteStorage

__all__ = ["PriceCheck", "SQLiteStorage", "Storage"]
