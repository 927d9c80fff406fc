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

Owner tokens are signed (HMAC-SHA256 under a random key made at start-up): the server knows
every token it issued without storing any, and a token it did not issue (or issued before a
restart) is not a credential; a new one is issued instead. Tokens are compared with
:func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import APIKeyCookie, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

COOKIE_NAME = "gradplay_owner"
COOKIE_MAX_AGE = 30 * 24 * 3600
"""Seconds the browser keeps the owner cookie (runs themselves expire when idle)."""
WATCH_PARAM = "watch"
MAX_TOKEN_LENGTH = 128

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
    """Issues owner tokens ``<nonce>.<signature>`` and recognises the ones it issued."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def _signature(self, nonce: str) -> str:
        digest = hmac.new(self._key, nonce.encode(), hashlib.sha256).digest()
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

    def role(self, owner: str, watch_token: str) -> str | None:
        """``"owner"``, ``"watch"`` or ``None`` (unknown to this caller) for one run."""
        if self.owns(owner):
            return "owner"
        if same_token(watch_token, self.watch):
            return "watch"
        return None


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
