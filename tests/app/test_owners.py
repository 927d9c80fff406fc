"""Runs owned by their client (issue 16, defect 7): owner and watch tokens, the per-client
quota, and the cross-site guards (``Host``, ``Origin``, ``Content-Type``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from app.cli import check_exposure, is_loopback, main
from app.main import create_app
from app.owners import COOKIE_NAME, TokenSigner
from app.security import origin_matches_host
from app.settings import LOOPBACK_HOSTS, Settings, SettingsError, parse_hosts
from tests.app.test_runs import run_count
from tests.app.test_stream import tc_stream

FAST = {"dataset": {"n": 40}, "model": {"hidden": [3]}}
EVIL = "https://evil.example"


def other_client(client: TestClient) -> TestClient:
    """A second client of the same app, with its own (empty) cookie jar."""
    return TestClient(client.app)


def create(client: TestClient, **headers: str) -> dict[str, Any]:
    r = client.post("/api/runs", json=FAST, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CHANGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("PATCH", "", {"optimizer": {"lr": 0.5}}),
    ("POST", "/step", {"steps": 3}),
    ("POST", "/reset", {"seed": 9}),
    ("PUT", "/weights", None),  # body: the run's own weights
    ("DELETE", "", None),
]
READS = ["", "/history", "/snapshot", "/data", "/weights", "/export", "/figures/loss"]


def change(client: TestClient, run_id: str, method: str, suffix: str,
           body: dict[str, Any] | None, weights: dict[str, Any], **kw: Any) -> Any:
    if suffix == "/weights":
        body = weights
    return client.request(method, f"/api/runs/{run_id}{suffix}", json=body, **kw)


# ------------------------------------------------------------------------------- isolation
@pytest.mark.parametrize(("method", "suffix", "body"), CHANGES)
@pytest.mark.parametrize("stranger", ["other_token", "no_token", "forged_token"])
def test_other_clients_cannot_change_a_run(
    client: TestClient, method: str, suffix: str, body: dict[str, Any] | None, stranger: str
) -> None:
    run = create(client)
    run_id = run["id"]
    client.post(f"/api/runs/{run_id}/step", json={"steps": 2})
    weights = client.get(f"/api/runs/{run_id}/weights").json()
    before = client.get(f"/api/runs/{run_id}/export").json()
    other = other_client(client)
    if stranger == "other_token":
        create(other)  # other now holds a token of its own (cookie)
        assert other.cookies[COOKIE_NAME] != run["owner_token"]
    elif stranger == "forged_token":
        nonce = run["owner_token"].split(".")[0]
        other.headers["Authorization"] = f"Bearer {nonce}.AAAAAAAAAAAAAAAAAAAAAAAA"
    r = change(other, run_id, method, suffix, body, weights)
    assert r.status_code == 404, r.text  # as for a run that does not exist: ids do not leak
    assert r.json()["detail"] == f"no run with id {run_id!r}"
    for read in READS:
        assert other.get(f"/api/runs/{run_id}{read}").status_code == 404
    assert client.get(f"/api/runs/{run_id}/export").json() == before  # nothing changed
    # the owner can
    assert change(client, run_id, method, suffix, body, weights).status_code in (200, 204)


def test_owner_token_works_as_bearer_without_the_cookie(client: TestClient) -> None:
    run = create(client)
    script = other_client(client)  # no cookie: a script with the token from the response
    auth = bearer(run["owner_token"])
    r = script.post(f"/api/runs/{run['id']}/step", json={"steps": 2}, headers=auth)
    assert r.status_code == 200 and r.json()["step"] == 2
    assert [s["id"] for s in script.get("/api/runs", headers=auth).json()] == [run["id"]]
    assert script.delete(f"/api/runs/{run['id']}", headers=auth).status_code == 204


def test_one_token_owns_many_runs(client: TestClient) -> None:
    first = create(client)
    second = create(client)  # the cookie goes along: same owner
    assert second["owner_token"] == first["owner_token"]
    script = other_client(client)
    third = create(script, **bearer(first["owner_token"]))
    assert third["owner_token"] == first["owner_token"]
    assert COOKIE_NAME not in third  # (the body has no cookie; the jar gets the same token)
    assert {s["id"] for s in client.get("/api/runs").json()} == {
        first["id"], second["id"], third["id"]}


def test_a_token_the_server_did_not_issue_is_replaced(client: TestClient) -> None:
    made_up = TokenSigner().issue()  # well-formed, but signed with another key
    run = create(client, **bearer(made_up))
    assert run["owner_token"] != made_up and client.app.state.tokens.valid(run["owner_token"])
    assert client.get(f"/api/runs/{run['id']}", headers=bearer(made_up)).status_code == 200
    # (the cookie of the new token went along; without it the made-up token is nobody)
    assert other_client(client).get(f"/api/runs/{run['id']}",
                                    headers=bearer(made_up)).status_code == 404


def test_owner_cookie_is_httponly_samesite_strict(client: TestClient) -> None:
    r = client.post("/api/runs", json=FAST)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}={r.json()['owner_token']};")
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"
    assert "secure" not in attributes  # plain http here; set when the request is https
    again = client.post("/api/runs", json=FAST)
    assert "set-cookie" not in again.headers  # the client keeps its cookie


def test_listing_shows_only_own_runs(client: TestClient) -> None:
    mine = {create(client)["id"], create(client)["id"]}
    other = other_client(client)
    theirs = {create(other)["id"]}
    assert {s["id"] for s in client.get("/api/runs").json()} == mine
    assert {s["id"] for s in other.get("/api/runs").json()} == theirs
    r = other_client(client).get("/api/runs")
    assert r.status_code == 401 and "owner token" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


# ------------------------------------------------------------------------------- quota
def test_300_posts_by_one_client_evict_only_its_own_runs(
    make_client: Callable[..., TestClient],
) -> None:
    victim = make_client(max_runs=64, max_runs_per_client=5)
    kept = [create(victim)["id"] for _ in range(3)]
    flood = other_client(victim)
    ids = [flood.post("/api/runs", json={}).json()["id"] for _ in range(300)]
    assert {s["id"] for s in flood.get("/api/runs").json()} == set(ids[-5:])  # its newest 5
    assert {s["id"] for s in victim.get("/api/runs").json()} == set(kept)
    for run_id in kept:
        assert victim.get(f"/api/runs/{run_id}").status_code == 200
    assert run_count(victim) == 3 + 5


def test_full_server_refuses_new_clients_with_503_and_keeps_other_runs(
    make_client: Callable[..., TestClient],
) -> None:
    victim = make_client(max_runs=6, max_runs_per_client=4)
    kept = {create(victim)["id"] for _ in range(4)}
    statuses = []
    for _ in range(300):  # no cookie jar: every POST is a new client
        r = other_client(victim).post("/api/runs", json={})
        statuses.append(r.status_code)
        if r.status_code == 503:
            assert int(r.headers["retry-after"]) >= 1
            assert "server is full" in r.json()["detail"]
    assert statuses[:2] == [201, 201] and set(statuses[2:]) == {503}
    assert {s["id"] for s in victim.get("/api/runs").json()} == kept
    # a client with runs of its own makes room by giving up its own longest-idle one
    new = create(victim)["id"]
    assert {s["id"] for s in victim.get("/api/runs").json()} - kept == {new}
    assert run_count(victim) == 6


def test_import_is_owned_and_counted_like_create(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_runs_per_client=2)
    run = create(client)
    client.post(f"/api/runs/{run['id']}/step", json={"steps": 2})
    exported = client.get(f"/api/runs/{run['id']}/export").json()
    r = other_client(client).post("/api/runs/import", json=exported)
    assert r.status_code == 201 and r.json()["owner_token"] != run["owner_token"]
    r2 = client.post("/api/runs/import", json=exported)
    assert r2.status_code == 201 and r2.json()["owner_token"] == run["owner_token"]
    create(client)  # third run of this client: evicts its own oldest (the first)
    assert client.get(f"/api/runs/{run['id']}").status_code == 404
    assert run_count(client) == 3  # 2 of this client + the other client's import


# ------------------------------------------------------------------------------- watch token
def test_watch_token_reads_but_cannot_change(client: TestClient) -> None:
    run = create(client)
    run_id, watch = run["id"], {"watch": run["watch_token"]}
    client.post(f"/api/runs/{run_id}/step", json={"steps": 2})
    weights = client.get(f"/api/runs/{run_id}/weights").json()
    teacher = other_client(client)
    for read in READS:
        r = teacher.get(f"/api/runs/{run_id}{read}", params=watch)
        assert r.status_code == 200, (read, r.text)
    assert teacher.get(f"/api/runs/{run_id}", params=watch).json()["step"] == 2
    for method, suffix, body in CHANGES:
        r = change(teacher, run_id, method, suffix, body, weights, params=watch)
        assert r.status_code == 403 and "read-only" in r.json()["detail"], (method, suffix)
    assert teacher.get("/api/runs").status_code == 401  # not an owner: no listing
    assert client.get(f"/api/runs/{run_id}").json()["step"] == 2
    # the watch token of one run does not open another
    other_run = create(client)["id"]
    assert teacher.get(f"/api/runs/{other_run}", params=watch).status_code == 404
    # nor is an owner token accepted as a watch token
    assert teacher.get(f"/api/runs/{run_id}",
                       params={"watch": run["owner_token"]}).status_code == 404


def test_watch_stream_gets_frames_but_no_control(client: TestClient) -> None:
    run = create(client)
    run_id = run["id"]
    teacher = other_client(client)
    with teacher.websocket_connect(f"/api/runs/{run_id}/stream?watch={run['watch_token']}") \
            as tws, client.websocket_connect(f"/api/runs/{run_id}/stream") as ows:
        t, o = tc_stream(tws), tc_stream(ows)
        assert t.until_type("state")["watch_token"] == run["watch_token"]
        o.until_type("state")
        for command in ({"type": "play"}, {"type": "step", "steps": 5}, {"type": "reset"},
                        {"type": "set", "patch": {"optimizer": {"lr": 0.5}}},
                        {"type": "speed", "steps_per_second": 5}, {"type": "pause"}):
            t.send(command)
            error = t.until_type("error", command["type"])
            assert "read-only" in error["detail"]
        t.send({"type": "snapshot"})  # reading is fine
        t.until_type("snapshot")
        assert client.get(f"/api/runs/{run_id}").json()["step"] == 0  # the watcher changed nothing
        o.send({"type": "step", "steps": 4})  # the owner drives; the watcher sees it
        o.until_type("ack", "step")
        t.until(lambda m: m["type"] == "frame" and m["step"] == 4)
        assert [r["step"] for r in t.records] == [0, 1, 2, 3]


@pytest.mark.parametrize("stranger", ["other_token", "no_token", "wrong_watch"])
def test_others_cannot_control_stream(client: TestClient, stranger: str) -> None:
    run_id = create(client)["id"]
    other = other_client(client)
    url = f"/api/runs/{run_id}/stream"
    if stranger == "other_token":
        create(other)
    elif stranger == "wrong_watch":
        url += "?watch=" + create(other)["watch_token"]
    with other.websocket_connect(url) as ws:
        message = ws.receive_json()
        assert message == {"type": "error", "of": "connect",
                           "detail": f"no run with id {run_id!r}"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4404
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "ready"


# ------------------------------------------------------------------------------- cross-site
@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"])
def test_form_posts_are_refused_with_415(client: TestClient, content_type: str) -> None:
    for body in (b"", b"seed=1", b'{"seed": 1}'):
        r = client.post("/api/runs", content=body, headers={"content-type": content_type})
        assert r.status_code == 415, (content_type, body)
        assert "Content-Type: application/json" in r.json()["detail"]
    run_id = create(client)["id"]
    for path in (f"/api/runs/{run_id}/step", "/api/schedules/preview"):
        r = client.post(path, content=b'{"steps": 3}', headers={"content-type": content_type})
        assert r.status_code == 415
    r = client.patch(f"/api/runs/{run_id}", content=b'{"optimizer": {"lr": 0.5}}',
                     headers={"content-type": content_type})
    assert r.status_code == 415
    assert client.get(f"/api/runs/{run_id}").json()["step"] == 0
    assert run_count(client) == 1


def test_body_without_content_type_is_refused_but_no_body_is_fine(client: TestClient) -> None:
    r = client.post("/api/runs", content=b"{}", headers={"content-type": ""})
    assert r.status_code == 415
    r = client.post("/api/runs")  # no body, no Content-Type (scripts): the defaults
    assert r.status_code == 201
    r = client.post("/api/runs", json={}, headers={
        "content-type": "Application/JSON; charset=utf-8"})
    assert r.status_code == 201


@pytest.mark.parametrize("origin", [EVIL, "null", "http://testserver:8000",
                                    "http://testserver.evil.example", "file://"])
def test_requests_from_another_origin_cannot_create_change_or_control(
    client: TestClient, origin: str
) -> None:
    run = create(client)
    run_id = run["id"]
    foreign = {"origin": origin}
    r = client.post("/api/runs", json={}, headers=foreign)
    assert r.status_code == 403 and "cross-origin" in r.json()["detail"]
    for method, suffix, body in CHANGES:
        weights = client.get(f"/api/runs/{run_id}/weights").json()
        r = change(client, run_id, method, suffix, body, weights, headers=foreign)
        assert r.status_code == 403, (method, suffix)  # even with the owner's cookie
    for url in (f"/api/runs/{run_id}/stream",
                f"/api/runs/{run_id}/stream?watch={run['watch_token']}"):
        with pytest.raises(WebSocketDenialResponse) as refused, \
                client.websocket_connect(url, headers=foreign):
            pass
        assert refused.value.status_code == 403
    assert run_count(client) == 1
    assert client.get(f"/api/runs/{run_id}").json()["step"] == 0


def test_same_origin_browser_requests_pass(client: TestClient) -> None:
    same = {"origin": "http://testserver"}
    run_id = create(client, **same)["id"]
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 1},
                       headers=same).status_code == 200
    with client.websocket_connect(f"/api/runs/{run_id}/stream", headers=same) as ws:
        assert ws.receive_json()["type"] == "state"
    # a cross-origin GET is not refused here: the browser does not let the page read it
    assert client.get(f"/api/runs/{run_id}", headers={"origin": EVIL}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "rebind.evil.example:8000", "127.0.0.2"])
def test_foreign_host_is_refused(client: TestClient, host: str) -> None:
    run_id = create(client)["id"]
    for method, path in (("GET", "/"), ("GET", f"/api/runs/{run_id}"),
                         ("POST", "/api/runs"), ("GET", "/healthz")):
        r = client.request(method, path, headers={"host": host},
                           json={} if method == "POST" else None)
        assert r.status_code == 400 and r.text == "Invalid host header", (method, path)
        assert r.headers["x-frame-options"] == "DENY"  # still with the security headers
    url = f"/api/runs/{run_id}/stream"
    with pytest.raises(WebSocketDenialResponse) as refused, \
            client.websocket_connect(url, headers={"host": host}):
        pass
    assert refused.value.status_code == 400
    assert run_count(client) == 1


def test_default_allowed_hosts_are_the_loopback_names() -> None:
    assert Settings().allowed_hosts == LOOPBACK_HOSTS == ("localhost", "127.0.0.1", "[::1]")
    app = create_app(Settings())
    assert TestClient(app).get("/healthz").status_code == 400  # Host: testserver
    for base in ("http://localhost", "http://127.0.0.1:8000", "http://[::1]:8000"):
        assert TestClient(app, base_url=base).get("/healthz").status_code == 200, base


def test_allowed_hosts_from_env() -> None:
    s = Settings.from_env({"GRADPLAY_ALLOWED_HOSTS": " Class.Example.org, *.lab.example ,"})
    assert s.allowed_hosts == ("class.example.org", "*.lab.example")
    app = create_app(s)
    for host, status in (("class.example.org", 200), ("a.lab.example:8000", 200),
                         ("localhost", 400), ("example.org", 400)):
        assert TestClient(app, base_url=f"http://{host}").get("/healthz").status_code == status
    assert "allowed_hosts" not in s.limits()


@pytest.mark.parametrize("value", ["host:8000", "a.*.org", "*example.org", " , ", "a b",
                                   "http://a.org"])
def test_bad_allowed_hosts_are_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="GRADPLAY_ALLOWED_HOSTS"):
        Settings.from_env({"GRADPLAY_ALLOWED_HOSTS": value})


def test_parse_hosts_accepts_a_sequence() -> None:
    assert parse_hosts(["A.org", "[::1]", "*"]) == ("a.org", "[::1]", "*")


@pytest.mark.parametrize(("origin", "host", "same"), [
    ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
    ("https://class.example.org", "class.example.org", True),  # TLS proxy, Host forwarded
    ("https://class.example.org", "class.example.org:443", True),
    ("http://localhost", "localhost:80", True),
    ("http://[::1]:8000", "[::1]:8000", True),
    ("http://LOCALHOST:8000", "localhost:8000", True),
    ("http://localhost:3000", "localhost:8000", False),  # another local app
    ("http://127.0.0.1:8000", "localhost:8000", False),
    ("https://evil.example", "127.0.0.1:8000", False),
    ("null", "127.0.0.1:8000", False),
    ("http://127.0.0.1:99999", "127.0.0.1:99999", False),  # not a port
    ("ftp://127.0.0.1", "127.0.0.1", False),
    ("http://127.0.0.1:8000", "", False),
])
def test_origin_matches_host(origin: str, host: str, same: bool) -> None:
    assert origin_matches_host(origin, host) is same


@given(st.text(max_size=40), st.text(max_size=40))
def test_origin_check_never_raises(origin: str, host: str) -> None:
    assert origin_matches_host(origin, host) in (True, False)


@given(st.text(max_size=200))
def test_tokens_are_valid_only_when_issued_by_this_key(text: str) -> None:
    signer = TokenSigner(b"k" * 32)
    assert signer.valid(text) is False  # any other text (never raises)
    token = signer.issue()
    assert signer.valid(token) and not TokenSigner(b"j" * 32).valid(token)
    nonce, signature = token.split(".")
    assert not signer.valid(f"{nonce}x.{signature}")


# ------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("127.0.0.2", True), ("0.0.0.0", False), ("::", False), ("192.168.1.20", False),
    ("class.example.org", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_on_all_interfaces_needs_allowed_hosts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GRADPLAY_ALLOWED_HOSTS", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2  # refuses before starting a server
    err = capsys.readouterr().err
    assert "GRADPLAY_ALLOWED_HOSTS" in err and "Running for a class" in err
    assert check_exposure("0.0.0.0", {"GRADPLAY_ALLOWED_HOSTS": "class.example.org"}) is None
    assert check_exposure("127.0.0.1", {}) is None


def test_pages_give_the_browser_its_owner_cookie_first(client: TestClient) -> None:
    """A page that creates several runs at once (sparsity lab: three parallel POSTs) must own
    them all: the page itself sets the cookie, so every POST carries the same token."""
    page = client.get("/labs/sparsity")
    token = client.cookies[COOKIE_NAME]
    assert page.headers["set-cookie"].startswith(f"{COOKIE_NAME}={token};")
    runs = [create(client) for _ in range(3)]
    assert {r["owner_token"] for r in runs} == {token}
    assert "set-cookie" not in client.get("/").headers  # the browser keeps its token
    assert len(client.get("/api/runs").json()) == 3
