"""Shared fixtures: in-process TestClient and a real uvicorn server for browser tests."""

from __future__ import annotations

# first: importing core limits BLAS to one thread, which only works before NumPy loads
import core  # isort: skip  # noqa: F401

import contextlib
import dataclasses
import os
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; plain httpx still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from app.cli import uvicorn_options
from app.main import create_app
from app.settings import Settings

# CI (CI=true) replays the same examples every run, so a red build is reproducible; locally
# hypothesis explores new examples each time. No deadlines: CI machines are shared.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def settings() -> Settings:
    """Default settings (independent of the developer's GRADPLAY_* environment)."""
    return Settings()


TEST_HOST = "testserver"
"""The ``Host`` of Starlette's TestClient: apps under TestClient allow it (``allowed_hosts``)
besides the loopback defaults, which stay what the real server uses."""


# Tests never write into the checkout's ./data (a search created there would start the
# default worker processes and train in the background during the whole suite): apps made for
# tests keep their state in a temporary directory and start no search workers unless a test
# asks for them. Each app gets a directory of its own (under TEST_DATA_DIR): runs are kept in
# the data directory, and one test's runs must not count towards another's limits.
TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix="gradplay-test-data-"))


def app_settings(**overrides: Any) -> Settings:
    """Default settings plus ``testserver`` as an allowed host, a temporary data directory of
    its own and no search worker processes, with ``overrides``."""
    base = Settings()
    overrides.setdefault("allowed_hosts", (*base.allowed_hosts, TEST_HOST))
    if "data_dir" not in overrides:
        overrides["data_dir"] = Path(tempfile.mkdtemp(dir=TEST_DATA_DIR))
    overrides.setdefault("search_workers", 0)
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """``make_client(max_body_bytes=100)`` -> TestClient for an app with those settings (and
    ``testserver`` allowed as host). The client keeps cookies: it is one owner of its runs."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(app_settings(**overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """TestClient of an app with default settings."""
    return make_client()


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the main thread keeps its handlers
        pass


@contextlib.contextmanager
def run_live_server(app: FastAPI, timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a free loopback port; yields the base URL."""
    # bind first and hand the socket to uvicorn: no race for the port number
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            **uvicorn_options(app.state.settings))
    server = _ThreadedServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError("live server thread exited during startup")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"live server did not answer /healthz within {timeout}s")
            time.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of a real uvicorn server running the app."""
    # One server for the whole browser suite: hundreds of tests, each a new client with its
    # own runs. Idle runs expire after 5 minutes and the run/memory bounds are raised, so the
    # suite never fills the server (the budgets themselves are tested on servers of their own).
    settings = app_settings(run_ttl_seconds=300, max_runs=5000, max_memory_mb=10**6)
    with run_live_server(create_app(settings)) as url:
        yield url
