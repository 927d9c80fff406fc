"""Server settings, read once from ``GRADPLAY_*`` environment variables.

Every limit protects the single server process from oversized work. Numeric values must be
positive integers; an invalid value stops the app at startup with a message naming the
variable.

Each field ``name`` is read from ``GRADPLAY_<NAME>`` (e.g. ``GRADPLAY_MAX_UNITS``):

=======================  ========  ==================================================
field                    default   meaning
=======================  ========  ==================================================
max_hidden_layers        64        hidden layers per network
max_units                512       units per hidden layer
max_samples              20000     samples per generated dataset; rows of an uploaded one
max_runs                 256       live runs kept in memory (server bound; when full: 503)
max_runs_per_client      16        live runs of one client (owner token); over it the
                                   client's own longest-idle run is evicted
run_ttl_seconds          3600      idle seconds before a run is dropped
max_body_bytes           1048576   request body bytes (1 MiB); larger bodies get 413
max_upload_bytes         64 MiB    body bytes of a dataset upload (POST /api/datasets;
                                   67108864); larger uploads get 413
max_steps_per_request    10000     training steps per API request
max_preview_steps        100000    steps of a schedule preview
history_max_points       5000      points kept per metric history
max_import_steps         200000    steps an imported run may be replayed to
max_import_bytes         128 MiB   bytes of an import body (POST /api/runs/import;
                                   134217728): as sent, and decompressed when gzip;
                                   larger imports get 413. Uploads keep room for it: a
                                   table whose export would not fit is refused (422)
max_events               10000     events (live changes, weights edits) per run log
max_event_bytes          16 MiB    bytes of one run's event log (16777216; compact JSON)
max_request_seconds      300       estimated seconds of training one request may do
                                   (POST .../step, an import's replay, the depth lab)
max_run_mb               1024      estimated memory of one run (MB; else 422)
max_memory_mb            8192      estimated memory of all runs (MB; a new run evicts its
                                   client's idle runs, else 503)
request_timeout_seconds  30        seconds a request's headers, then its body, may take
training_threads         2         worker threads shared by all training (GIL-bound)
search_workers           (cores)   trial worker processes the server starts for searches;
                                   0 = none (external ``gradplay worker`` processes run trials)
search_storage           (auto)    Optuna storage URL of the searches; empty = journal file
                                   ``<data_dir>/searches.journal`` (``postgresql://…``,
                                   ``sqlite:////abs/file``, ``journal:////abs/file``)
data_dir                 (auto)    state that outlives the process (``./data`` of the
                                   checkout; created when first needed): runs, searches,
                                   the signing key
secret_key               (auto)    key that signs owner tokens (at least 32 characters);
                                   empty = made once and kept in ``<data_dir>/secret_key``
templates_dir            (auto)    Jinja2 templates folder
static_dir               (auto)    static files folder
allowed_hosts            (auto)    comma-separated host names clients may use (``Host``
                                   header, WebSocket ``Origin``); ``*`` = any
=======================  ========  ==================================================

``templates_dir``/``static_dir`` default to the ``templates/`` and ``static/`` folders of the
project checkout: next to the ``app`` package (editable install / source tree), else in the
current working directory (a non-editable install run from the checkout, as in the Dockerfile).

``allowed_hosts`` defaults to the loopback names (``localhost``, ``127.0.0.1``, ``[::1]``): a
server bound to loopback answers only requests addressed to it by one of those names (a web
page on another site that resolves its own name to 127.0.0.1, DNS rebinding, is refused).
``gradplay serve --host 0.0.0.0`` refuses to start without ``GRADPLAY_ALLOWED_HOSTS``.
Entries are host names or IP addresses without port (IPv6 in brackets), ``*.example.org``
for subdomains, or ``*`` for any host (then only the same-origin check of ``Origin`` remains).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "GRADPLAY_"

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


_STRING_FIELDS = frozenset({"search_storage", "secret_key"})
_ZERO_ALLOWED = frozenset({"search_workers"})


def _minimum(name: str) -> int:
    return 0 if name in _ZERO_ALLOWED else 1


def _rule(name: str) -> str:
    return "an integer >= 0" if name in _ZERO_ALLOWED else "a positive integer"


LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
"""The default ``allowed_hosts``: the names of the loopback interface."""


MIN_SECRET_KEY_LENGTH = 32
"""Characters ``GRADPLAY_SECRET_KEY`` must have at least (e.g. ``openssl rand -hex 32``)."""


class SettingsError(ValueError):
    """An environment variable holds an invalid value."""


def parse_hosts(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"a.org, *.b.org"`` (or a sequence of names) -> ``("a.org", "*.b.org")``, lowercased.

    Entries are host names or addresses without a port; a wildcard is ``*`` alone or a leading
    ``*.`` (the patterns Starlette's ``TrustedHostMiddleware`` accepts)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    hosts = tuple(h.strip().lower() for h in items if h.strip())
    if not hosts:
        raise SettingsError("allowed_hosts must name at least one host (or '*')")
    for host in hosts:
        wildcard_ok = host == "*" or (host.startswith("*.") and "*" not in host[2:])
        if ("*" in host and not wildcard_ok) or "/" in host or " " in host or (
            ":" in host and not host.startswith("[")
        ):
            raise SettingsError(
                f"allowed_hosts entry {host!r} must be a host name or address without port "
                "(IPv6 in brackets), '*.domain' or '*'"
            )
    return hosts


def _default_dir(name: str) -> Path:
    beside_package = _PACKAGE_PARENT / name
    if beside_package.is_dir():
        return beside_package
    return Path.cwd() / name


@dataclass(frozen=True)
class Settings:
    """Immutable server settings (see the module docstring for the table)."""

    max_hidden_layers: int = 64
    max_units: int = 512
    max_samples: int = 20000
    max_runs: int = 256
    max_runs_per_client: int = 16
    run_ttl_seconds: int = 3600
    max_body_bytes: int = 1048576
    max_upload_bytes: int = 67108864
    max_steps_per_request: int = 10000
    max_preview_steps: int = 100000
    history_max_points: int = 5000
    max_import_steps: int = 200000
    max_import_bytes: int = 134217728
    max_events: int = 10000
    max_event_bytes: int = 16777216
    max_request_seconds: int = 300
    max_run_mb: int = 1024
    max_memory_mb: int = 8192
    request_timeout_seconds: int = 30
    training_threads: int = 2
    search_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    search_storage: str = ""
    secret_key: str = field(default="", repr=False)  # a secret: never in logs or the catalog
    data_dir: Path | None = None
    templates_dir: Path | None = None
    static_dir: Path | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "allowed_hosts":
                object.__setattr__(self, f.name, parse_hosts(value))
            elif f.name.endswith("_dir"):
                path = _default_dir(f.name.removesuffix("_dir")) if value is None else Path(value)
                object.__setattr__(self, f.name, path)
            elif f.name in _STRING_FIELDS:
                if not isinstance(value, str):
                    raise SettingsError(f"{f.name} must be a string, got {type(value).__name__}")
                if f.name == "secret_key" and 0 < len(value) < MIN_SECRET_KEY_LENGTH:
                    raise SettingsError(f"secret_key must have at least {MIN_SECRET_KEY_LENGTH} "
                                        f"characters, got {len(value)}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < _minimum(f.name):
                raise SettingsError(
                    f"{f.name} must be {_rule(f.name)}, got {value!r}"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``GRADPLAY_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = ENV_PREFIX + f.name.upper()
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            raw = raw.strip()
            if f.name in _STRING_FIELDS:
                values[f.name] = raw
                continue
            if f.name == "data_dir":  # created when first needed
                values[f.name] = Path(raw)
                continue
            if f.name == "allowed_hosts":
                try:
                    values[f.name] = parse_hosts(raw)
                except SettingsError as exc:
                    raise SettingsError(f"{var}: {exc}") from None
                continue
            if f.name.endswith("_dir"):
                path = Path(raw)
                if not path.is_dir():
                    raise SettingsError(f"{var} must name an existing directory, got {raw!r}")
                values[f.name] = path
                continue
            try:
                number = int(raw.replace("_", ""))
            except ValueError:
                raise SettingsError(
                    f"{var} must be {_rule(f.name)}, got {raw!r}"
                ) from None
            if number < _minimum(f.name):
                raise SettingsError(f"{var} must be {_rule(f.name)}, got {raw!r}")
            values[f.name] = number
        return cls(**values)

    def limits(self) -> dict[str, int]:
        """The numeric limits, as published in ``GET /api/catalog``."""
        return {
            f.name: getattr(self, f.name) for f in fields(self)
            if isinstance(getattr(self, f.name), int)
        }
