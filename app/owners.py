"""Runs owned by their client: owner tokens, watch tokens and who may do what with a run.

* **Owner token.** ``POST /api/runs`` and ``POST /api/runs/import`` return ``owner_token``
  and set it as the HttpOnly, SameSite=Strict cookie ``gradplay_owner`` (the browser sends it
  by itself, also on the WebSocket handshake); scripts send ``Authorization: Bearer <token>``.
  A client that already has a token keeps it for new runs, so one token owns many runs. The
  token is the client: the per-client quota (``max_runs_per_client``) counts runs per token,
  not per IP address (a class may share one address).
  Every HTML page sets the cookie for a browser that has none, so a page's parallel first
  requests all carry the same token.
* **Watch token.** Every run has its own read-only ``watch_token``: with ``?watch=<token>``
  a client can read the run (``GET`` of the run, history, snapshot, data, weights, export,
  figures) and stream it (``/api/runs/{id}/stream?watch=<token>``) but not control it. The
  playground shows a run read-only at ``/?run=<id>&watch=<watch_token>`` (the watch link).
* **Answers.** A run the caller holds no token for is answered 404, exactly like a run that
  does not exist, so ids do not leak. A watch token on a control request (PATCH, step, reset,
  PUT weights, DELETE, WebSocket control commands) is answered 403: the caller knows the run.

Owner tokens are signed (HMAC-SHA256): the server knows every token it issued without
storing any, and a token it did not issue is not a credential; a new one is issued instead.
The key (:func:`signing_key`) is ``GRADPLAY_SECRET_KEY`` if set, else made once and kept in
the data directory (``<data_dir>/secret_key``, mode 0600), so tokens survive a restart, as do
the runs and searches they own. Runs and searches remember their owner by the SHA-256 of the
token (:func:`token_hash`), never the bearer secret itself. Tokens are compared with
:func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import APIKeyCookie, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from app.settings import MIN_SECRET_KEY_LENGTH

COOKIE_NAME = "gradplay_owner"
COOKIE_MAX_AGE = 30 * 24 * 3600
"""Seconds the browser keeps the owner cookie (runs themselves expire when idle)."""
WATCH_PARAM = "watch"
MAX_TOKEN_LENGTH = 128
SECRET_KEY_FILE = "secret_key"
"""The signing key's file in the data directory (64 hex digits, mode 0600)."""

logger = logging.getLogger("gradplay")

OWNER_HELP = (
    "The owner token (`owner_token` of `POST /api/runs`): `Authorization: Bearer <token>` "
    f"or the `{COOKIE_NAME}` cookie the browser got with it."
)

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ownerToken",
    description="Owner token of the run(s): `Authorization: Bearer <owner_token>` (the "
    "`owner_token` returned by `POST /api/runs` or `/api/runs/import`). Needed to list, "
    "change, step, reset, delete and control-stream runs; answers 404 for runs of other "
    "clients.",
)
cookie_scheme = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    scheme_name="ownerCookie",
    description="The same owner token as an HttpOnly, SameSite=Strict cookie, set by "
    "`POST /api/runs` for browsers.",
)
watch_scheme = APIKeyQuery(
    name=WATCH_PARAM,
    auto_error=False,
    scheme_name="watchToken",
    description="A run's read-only `watch_token` as the query parameter `watch`: read and "
    "stream the run, no control (a teacher projecting a student's run).",
)


class TokenSigner:
    """Issues owner tokens ``<nonce>.<signature>`` and recognises the ones it issued.

    ``key``: the key, or a function that gives it, called once when a token is first issued
    or checked (so building an app writes no key file until the key is needed); None: a
    random key of this object's own."""

    def __init__(self, key: bytes | Callable[[], bytes] | None = None) -> None:
        self._source = key
        self._key = key if isinstance(key, bytes) else None
        self._lock = threading.Lock()

    @property
    def key(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    source = self._source
                    self._key = source() if callable(source) else secrets.token_bytes(32)
        return self._key

    def _signature(self, nonce: str) -> str:
        digest = hmac.new(self.key, nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()  # 144 bits, 24 characters

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(24)  # 192 random bits
        return f"{nonce}.{self._signature(nonce)}"

    def valid(self, token: str | None) -> bool:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return False
        nonce, dot, signature = token.partition(".")
        return bool(dot) and hmac.compare_digest(
            signature.encode(), self._signature(nonce).encode()
        )


def _read_key(path: Path) -> bytes | None:
    key = path.read_bytes().strip()
    return key if len(key) >= MIN_SECRET_KEY_LENGTH else None


def signing_key(secret: str, data_dir: Path) -> bytes:
    """The key owner tokens are signed with: ``secret`` (``GRADPLAY_SECRET_KEY``) if set, else
    the key in ``<data_dir>/secret_key``, made (256 random bits, mode 0600) the first time.

    Several processes may start at once: the new key is written to a private temporary file
    and linked into place only if no key exists yet, so all of them end up with the same one.
    A data directory that cannot hold the key (read-only) or holds an unreadable one gets a
    logged warning and a key for this process only: tokens then end with the process."""
    if secret:
        return secret.encode()
    path = data_dir / SECRET_KEY_FILE
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            tmp = data_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process was first: use its key
            finally:
                tmp.unlink(missing_ok=True)
        key = _read_key(path)
        if key is not None:
            return key
        logger.warning("%s holds no valid key (at least %d characters): owner tokens will not "
                       "survive a restart; delete the file to make a new key", path,
                       MIN_SECRET_KEY_LENGTH)
    except OSError as exc:
        logger.warning("cannot keep the signing key in %s (%s): owner tokens will not survive "
                       "a restart (set GRADPLAY_SECRET_KEY)", path, exc)
    return secrets.token_bytes(32)


def token_hash(token: str) -> str:
    """What runs and searches store of their owner's token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_watch_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens (``None`` never matches)."""
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Caller:
    """The credentials a request presented: valid owner tokens (bearer first, then cookie)
    and an unchecked watch token."""

    owner_tokens: tuple[str, ...] = ()
    watch: str | None = None

    @property
    def token(self) -> str | None:
        """The token that new runs of this client are owned by (``None``: needs a new one)."""
        return self.owner_tokens[0] if self.owner_tokens else None

    def owns(self, owner: str) -> bool:
        return any(same_token(owner, t) for t in self.owner_tokens)

    @functools.cached_property
    def owner_hashes(self) -> tuple[str, ...]:
        """:func:`token_hash` of each owner token."""
        return tuple(token_hash(t) for t in self.owner_tokens)

    def owns_hash(self, owner_sha256: str) -> bool:
        """Whether one of the tokens has this :func:`token_hash` (a run restored from the
        store knows its owner only by the hash)."""
        return any(same_token(owner_sha256, h) for h in self.owner_hashes)

    def role(self, owner: str, watch_token: str) -> str | None:
        """``"owner"``, ``"watch"`` or ``None`` (unknown to this caller) for one run."""
        if self.owns(owner):
            return "owner"
        if same_token(watch_token, self.watch):
            return "watch"
        return None

    def role_of(self, owner: str, owner_sha256: str, watch_token: str) -> str | None:
        """:meth:`role` for a run that may know its owner only by :func:`token_hash`
        (``owner`` empty: a run restored from the store)."""
        if owner:
            return self.role(owner, watch_token)
        if self.owns_hash(owner_sha256):
            return "owner"
        return "watch" if same_token(watch_token, self.watch) else None


def caller_from(
    signer: TokenSigner,
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    query: Mapping[str, str],
) -> Caller:
    """The caller of an HTTP request or WebSocket handshake."""
    candidates = []
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        candidates.append(credentials.strip())
    candidates.append(cookies.get(COOKIE_NAME, ""))
    tokens = tuple(dict.fromkeys(t for t in candidates if signer.valid(t)))
    watch = query.get(WATCH_PARAM)
    return Caller(tokens, watch[:MAX_TOKEN_LENGTH] if watch else None)


def signer(request: Request) -> TokenSigner:
    return request.app.state.tokens  # type: ignore[no-any-return]


def _caller(request: Request) -> Caller:
    return caller_from(signer(request), request.headers, request.cookies, request.query_params)


def owner_caller(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    _cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Caller:
    """Dependency of owner-only operations (declares the owner schemes in OpenAPI)."""
    return _caller(request)


def reader_caller(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    _cookie: Annotated[str | None, Depends(cookie_scheme)],
    _watch: Annotated[str | None, Depends(watch_scheme)],
) -> Caller:
    """Dependency of read operations: the owner token or the run's watch token."""
    return _caller(request)


def optional_caller(request: Request) -> Caller:
    """Dependency of operations open to anyone (creating runs): no security requirement in
    OpenAPI, but a client that already has a token keeps it."""
    return _caller(request)


def set_owner_cookie(response: Response, request: Request, token: str) -> None:
    """Set ``token`` as the browser's owner cookie unless the request already carries it."""
    if request.cookies.get(COOKIE_NAME) != token:
        response.set_cookie(
            COOKIE_NAME, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True,
            samesite="strict", secure=request.url.scheme == "https",
        )


def ensure_owner_cookie(response: Response, request: Request) -> None:
    """Pages give a browser its owner token before their scripts run: a page that creates
    several runs at once (the sparsity lab) then owns them all with one token, instead of
    each parallel ``POST /api/runs`` minting its own and the last cookie winning."""
    if _caller(request).token is None:
        set_owner_cookie(response, request, signer(request).issue())


def read_only_error() -> HTTPException:
    return HTTPException(
        status_code=403,
        detail="read-only: the watch token can read and stream this run but not change it; "
        "that needs the owner token",
    )


def listing_needs_token() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="listing runs needs the owner token: " + OWNER_HELP.replace("`", ""),
        headers={"WWW-Authenticate": "Bearer"},
    )
