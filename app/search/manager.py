"""The server's view of searches: one storage, a worker pool, blocking calls off the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from optuna.storages import RDBStorage

from app.search import store
from app.search.pool import WorkerPool
from app.settings import Settings

T = TypeVar("T")


class SearchManager:
    """Searches live in the Optuna storage, not in memory: a restarted server finds them there
    (and restarts its workers when some are unfinished)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.data_dir is not None
        self.url = settings.search_storage or store.default_storage_url(settings.data_dir)
        self.pool = WorkerPool(settings.search_workers, self.url)
        # Storage calls block (SQLite/PostgreSQL): never on the event loop. Their own threads,
        # so a long training request does not delay a search page.
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gradplay-search")
        self.eager = False
        """Start the workers at startup (``gradplay serve``) rather than with the first search."""

    @property
    def storage(self) -> RDBStorage:
        return store.open_storage(self.url)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _has_storage(self) -> bool:
        for prefix in ("sqlite:///", store.JOURNAL_PREFIX):
            if self.url.startswith(prefix):
                return Path(self.url.removeprefix(prefix)).exists()
        return True

    def resume(self) -> None:
        """At startup: start the workers if eager or the storage holds unfinished searches."""
        if self.eager:
            self.pool.ensure_started()
        if not self.pool.size or not self._has_storage():
            return
        storage = self.storage
        for search_id in store.search_ids(storage):
            study = store.load(storage, search_id)
            if study is not None and store.describe(study, trials=False)["state"] in (
                    "queued", "running"):
                self.pool.ensure_started()
                return

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.pool.stop)
