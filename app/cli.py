"""``gradplay`` console script: ``gradplay serve [--host 127.0.0.1] [--port 8000]`` and
``gradplay worker [--search ID | --all] [--storage URL]`` (search trials; see
:mod:`app.search.worker`)."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import sys
from collections.abc import Mapping, Sequence

from app.settings import ENV_PREFIX, Settings, SettingsError

ALLOWED_HOSTS_VAR = ENV_PREFIX + "ALLOWED_HOSTS"

UVICORN_OPTIONS: dict[str, object] = {
    "ws": "websockets-sansio",
    # Per-message deflate of WebSocket frames cost ~13 % of the server's CPU with 32 runs
    # streaming flat out (more than encoding the frames' JSON), and the server is CPU-bound
    # (one GIL). At the default 60 steps/s a client receives ~45 KB/s uncompressed.
    "ws_per_message_deflate": False,
    "proxy_headers": False,
}
"""How ``gradplay serve`` runs uvicorn (the tests' live server and the benchmarks too)."""


GRACEFUL_SHUTDOWN_SECONDS = 3
"""At SIGTERM, how long open requests may take to finish. Training stops at the signal (see
``app.main.on_shutdown_signal``): a step request answers the steps done within about a
second, or one step. Requests still open after this (one very slow step, an import's
replay) are cancelled; every run is then saved (``RunManager.close_all``), so the server
exits within 5 s of SIGTERM."""


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """:data:`UVICORN_OPTIONS` plus the limits that come from the settings: WebSocket messages
    as large as request bodies (uvicorn closes the connection with 1009 beyond), idle
    keep-alive connections closed after 5 s, at most :data:`GRACEFUL_SHUTDOWN_SECONDS` for
    open connections to finish at shutdown, and connections whose request headers take longer than
    ``GRADPLAY_REQUEST_TIMEOUT_SECONDS`` closed (:mod:`app.stall`; stalled bodies get a 408
    from ``BodySizeLimitMiddleware``)."""
    options: dict[str, object] = {
        **UVICORN_OPTIONS,
        "ws_max_size": settings.max_body_bytes,
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    from app.stall import stall_guarded_protocol  # asyncio and uvicorn: not for `worker`

    protocol = stall_guarded_protocol(settings.request_timeout_seconds)
    if protocol is not None:
        options["http"] = protocol
    return options


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0..65535, got {port}")
    return port


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (``localhost``, 127.0.0.0/8,
    ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, environ: Mapping[str, str]) -> str | None:
    """The reason not to start, or None: a server reachable from other machines needs
    ``GRADPLAY_ALLOWED_HOSTS`` (the default allows only the loopback names, which the other
    machines cannot use, so every request of theirs would get 400)."""
    if is_loopback(host) or environ.get(ALLOWED_HOSTS_VAR, "").strip():
        return None
    return (
        f"--host {host} makes the server reachable from other machines: set "
        f"{ALLOWED_HOSTS_VAR} to the names they use to reach it (comma-separated, e.g. "
        f"{ALLOWED_HOSTS_VAR}=class.example.org,192.168.1.20; '*' allows any Host, which "
        "gives up the DNS-rebinding protection). See \"Running for a class\" in README.md."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradplay", description="GradPlay: a visual playground for neural network training."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the web server",
        description="Run the web app with uvicorn. Limits come from GRADPLAY_* variables "
        "(see app/settings.py).",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default: 127.0.0.1, loopback only; 0.0.0.0 exposes it and "
        f"then needs {ALLOWED_HOSTS_VAR})",
    )
    serve.add_argument("--port", type=_port, default=8000, help="TCP port (default: 8000)")
    serve.add_argument(
        "--ws-compression",
        action="store_true",
        help="offer per-message deflate on WebSockets (less bandwidth, more server CPU; off "
        "by default)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default: info)",
    )
    worker = sub.add_parser(
        "worker",
        help="run hyperparameter-search trials",
        description="Run trials of searches stored in the search storage (GRADPLAY_SEARCH_"
        "STORAGE, else the journal file searches.journal in GRADPLAY_DATA_DIR). Start any "
        "number, on any machine that reaches the same storage (the journal file: this "
        "machine only).",
    )
    from app.search.worker import build_parser as build_worker_parser

    build_worker_parser(worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        from app.search import worker

        return worker.main(args=args)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"gradplay: invalid configuration: {exc}", file=sys.stderr)
        return 2
    refusal = check_exposure(args.host, os.environ)
    if refusal is not None:
        print(f"gradplay: {refusal}", file=sys.stderr)
        return 2
    print(f"gradplay: allowed hosts: {', '.join(settings.allowed_hosts)}", file=sys.stderr)

    # single-threaded BLAS (see core/__init__.py); must happen before NumPy is imported
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    import uvicorn

    from app.main import create_app

    app = create_app(settings)
    # Everything alive now (modules, the app) lives as long as the server. Freezing it keeps
    # it out of the collector's full passes, which otherwise walk ~70k objects (~40 ms, a
    # visible stall of training and streaming) whenever enough new objects have piled up.
    # Done here, not in the app's lifespan: an app embedded elsewhere (or the tests' many
    # apps) must stay collectable.
    # Search workers start with the server (its lifespan), so the first search starts at
    # once; an app embedded elsewhere starts them with its first search.
    app.state.searches.eager = True
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        **{**uvicorn_options(settings), "ws_per_message_deflate": args.ws_compression},  # type: ignore[arg-type]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
