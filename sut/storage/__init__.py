"""Storage backends behind one backend-neutral interface (domain objects in and out)."""

from sut.storage.base import PriceCheck, RetryStats, Storage
from sut.storage.sqlite_async import SQLiteStorage

__all__ = ["PriceCheck", "RetryStats", "SQLiteStorage", "Storage"]
