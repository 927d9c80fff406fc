"""The interview-question bank (app/questions/*.json) and its page: schema, syllabus coverage,
and every link checked against the app — its path is a route, its query keys are URL-state keys
the target page reads, its values are names the page knows (presets, schedules, optimizers…).

URL-state keys are derived from the pages themselves, not listed here: a lab's module opens
with a "URL state:" header (static/js/labs/*.js) whose ``key=`` tokens are the keys
(``<param>``-style placeholders match any parameter name); the playground's keys are the string
literals of ``readLink`` in static/js/playground/controls.js, and ``<component>.<param>`` keys
are checked against the catalog entry the link selects. The browser test
(tests/e2e/test_questions.py) then opens every link and checks the page reached the state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.main import create_app
from app.questions import BANK_DIR, chapter_files, load_bank, read_bank
from app.routers.pages import GRADIENT_PRESETS, NAV, NORMALIZATION_PRESETS, SEARCH_PRESETS
from app.schemas.questions import PLANNED_PAGES, Chapter
from tests.conftest import app_settings

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
SYLLABUS = Path("/work/shared/syllabus.md")  # outside the repository; the copy below is used
TOPICS_FILE = BANK_DIR / "topics.json"  # number -> title, a copy of the syllabus's table


@pytest.fixture(scope="module")
def app_client():  # type: ignore[no-untyped-def]
    with TestClient(create_app(app_settings())) as c:
        yield c


@pytest.fixture(scope="module")
def catalog(app_client: TestClient) -> dict:
    return app_client.get("/api/catalog").json()


def all_questions():  # type: ignore[no-untyped-def]
    return [(c, q) for c in load_bank().chapters for q in c.questions]


def all_links() -> list[tuple[str, str]]:
    """(question id, href) of every try-it link and erratum target."""
    out = []
    for _, q in all_questions():
        out += [(q.id, link.href) for link in q.try_]
        out += [(q.id, e.where) for e in q.errata]
    return out


# ---- schema ---------------------------------------------------------------------------------


def test_bank_loads_and_has_the_size_of_the_issue() -> None:
    bank = read_bank()
    assert 70 <= bank.count <= 90
    assert len(bank.chapters) == 16
    assert [c.order for c in bank.chapters] == list(range(1, 17))
    assert bank.count == sum(len(c.questions) for c in bank.chapters)


def test_every_chapter_file_validates_strictly() -> None:
    for path in chapter_files():
        raw = json.loads(path.read_text(encoding="utf-8"))
        Chapter.model_validate(raw)  # extra keys, empty texts, bad ids all fail here


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda q: q.pop("answer"), "answer"),
        (lambda q: q["question"].update(zh=""), "zh"),
        (lambda q: q.update(surprise=1), "surprise"),
        (
            lambda q: q.update(predict={"choices": [{"en": "a", "zh": "甲"}] * 2, "correct": 2}),
            "correct must be < 2",
        ),
        (lambda q: q.update(planned=["/labs/nowhere"]), "planned"),
        (lambda q: q["try"][0].update(href="labs/gradients"), "href"),
        (lambda q: q.update(id="Bad Id"), "id"),
    ],
)
def test_schema_rejects_broken_questions(mutate, message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads(chapter_files()[0].read_text(encoding="utf-8"))
    mutate(raw["questions"][0])
    (tmp_path / chapter_files()[0].name).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        read_bank(tmp_path)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    for path in chapter_files()[:2]:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["questions"][0]["id"] = "same-id"
        (tmp_path / path.name).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValidationError, match="duplicate question id 'same-id'"):
        read_bank(tmp_path)


def test_text_is_bilingual_and_not_copied_between_languages() -> None:
    for _, q in all_questions():
        for text in (q.question, q.answer):
            assert text.en != text.zh, q.id
            assert re.search(r"[\u4e00-\u9fff]", text.zh), f"{q.id}: zh has no Chinese"
            assert not re.search(r"[\u4e00-\u9fff]", text.en), f"{q.id}: en has Chinese"


# ---- syllabus coverage ----------------------------------------------------------------------


def syllabus_topics() -> dict[int, str]:
    return {int(k): v for k, v in json.loads(TOPICS_FILE.read_text(encoding="utf-8")).items()}


def test_topic_copy_matches_the_syllabus() -> None:
    if not SYLLABUS.exists():
        pytest.skip("the shared syllabus is not on this machine (the copy is used)")
    rows = re.findall(r"^\|(\d+)\|([^|]+)\|", SYLLABUS.read_text(encoding="utf-8"), re.M)
    assert {int(n): title.strip() for n, title in rows} == syllabus_topics()


def test_every_syllabus_topic_has_a_question() -> None:
    topics = syllabus_topics()
    assert sorted(topics) == list(range(1, 77))
    covered = {t for _, q in all_questions() for t in q.topics}
    assert covered <= set(topics), covered - set(topics)
    missing = {n: topics[n] for n in sorted(set(topics) - covered)}
    assert not missing, f"topics without a question: {missing}"


def test_the_issues_errata_are_all_present() -> None:
    text = "\n".join(f"{e.notes.en} {e.correct.en}" for _, q in all_questions() for e in q.errata)
    for needle in (
        "0.9084",
        "e^(−decay_rate/global_step)",
        "√(σ² + ε)",
        "λ‖w‖₂²",
        "γ = √(σ² + ε) and β = μ",
        "|yᵢ = f(xᵢ)|",
        "dampening = 0.9",
        "1/(1−p)",
        "Σ|w| + λΣw",
        "21.0",
    ):
        assert needle in text, needle


# ---- links ----------------------------------------------------------------------------------


def route_paths(app_client: TestClient) -> set[str]:
    """Paths of the app's routes (routers included by FastAPI are walked into)."""
    out: set[str] = set()

    def walk(routes) -> None:  # type: ignore[no-untyped-def]
        for r in routes:
            if getattr(r, "path", None):
                out.add(r.path)
            inner = getattr(r, "original_router", None)
            if inner is not None:
                walk(inner.routes)

    walk(app_client.app.routes)
    assert "/labs/gradients" in out and "/api/questions" in out
    return out


def page_module(app_client: TestClient, path: str) -> Path:
    """The page's own ES module (the template's <script type="module">, not common.js)."""
    html = app_client.get(path).text
    srcs = re.findall(r'<script type="module" src="/static/([^"?]+)', html)
    own = [s for s in srcs if s != "js/common.js"]
    assert len(own) == 1, (path, srcs)
    return STATIC / own[0]


def header_key_patterns(source: str) -> list[re.Pattern[str]]:
    """Keys of the module header's "URL state:" block, as regexes (<x> = any name)."""
    header = []
    for line in source.splitlines():
        if not line.startswith("//"):
            break
        header.append(line[2:])
    text = "\n".join(header)
    assert "URL state:" in text, "the page module documents no URL state"
    block = text[text.index("URL state:") :]
    keys = set(re.findall(r"[?&]\s*([\w.<>]+)=", block))
    # prose such as "<name>.<param>: parameters that differ from the default"
    keys |= {k for k in re.findall(r"([\w.<>]+):", block) if "<" in k}
    if "same for b." in block:  # gradients: column b mirrors column a
        keys |= {"b." + k[2:] for k in keys if k.startswith("a.")}
    assert keys
    return [
        re.compile(
            re.sub(r"<\w+>", r"[A-Za-z0-9_]+", re.escape(k).replace(r"\<", "<").replace(r"\>", ">"))
            + r"\Z"
        )
        for k in keys
    ]


PLAYGROUND_KINDS = {
    "dataset": "datasets",
    "activation": "activations",
    "init": "initializers",
    "loss": "losses",
    "optimizer": "optimizers",
    "schedule": "schedules",
    "clip": "grad_clip",
}


def playground_keys() -> set[str]:
    """String literals of readLink (every key the playground reads from a link)."""
    source = (STATIC / "js/playground/controls.js").read_text(encoding="utf-8")
    body = source[source.index("export function readLink") :]
    body = body[: body.index("\n}\n")]
    return set(re.findall(r'"([a-z_]+)"', body))


def check_playground_query(query: dict[str, str], catalog: dict) -> list[str]:
    problems = []
    literals = playground_keys()
    reg_params = {p["name"] for e in catalog["regularization"] for p in e["params"]}
    for key, value in query.items():
        if "." in key:
            base, param = key.split(".", 1)
            kind = PLAYGROUND_KINDS.get(base)
            if kind is None or base not in literals:
                problems.append(f"{key}: no component prefix {base!r}")
                continue
            if base not in query:
                problems.append(f"{key}: set {base}= too (the parameter's component)")
                continue
            entry = next((e for e in catalog[kind] if e["name"] == query[base]), None)
            if entry is None or param not in {p["name"] for p in entry["params"]}:
                problems.append(f"{key}: {query[base]!r} has no parameter {param!r}")
        elif key not in literals and key not in reg_params:
            problems.append(f"{key}: not read by the playground")
        elif key in PLAYGROUND_KINDS and value not in {
            e["name"] for e in catalog[PLAYGROUND_KINDS[key]]
        }:
            problems.append(f"{key}={value}: unknown {PLAYGROUND_KINDS[key]} name")
    return problems


def known_values(path: str, catalog: dict) -> dict[str, set[str]]:
    """Allowed values of the keys that name something, per page."""
    names = lambda kind: {e["name"] for e in catalog[kind]}  # noqa: E731
    opt_src = (STATIC / "js/labs/optimizers.js").read_text(encoding="utf-8")
    return {
        "/labs/gradients": {"preset": {p["id"] for p in GRADIENT_PRESETS}},
        "/labs/normalization": {"preset": set(NORMALIZATION_PRESETS)},
        "/labs/search": {"preset": set(SEARCH_PRESETS)},
        "/labs/optimizers": {
            "preset": set(re.findall(r'\{ id: "(\w+)"', opt_src)),
            "fn": names("test_functions"),
        },
        "/labs/schedules": {},
        "/labs/sparsity": {"method": {"proximal", "subgradient"}},
    }.get(path, {})


def check_lab_query(path: str, query: dict[str, str], patterns, catalog: dict) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    for key, value in query.items():
        if not any(p.match(key) for p in patterns):
            problems.append(f"{key}: not a URL-state key of {path}")
        allowed = known_values(path, catalog).get(key)
        if allowed is not None and value not in allowed:
            problems.append(f"{key}={value}: not one of {sorted(allowed)}")
    if path == "/labs/schedules":
        scheds = {e["name"]: {p["name"] for p in e["params"]} for e in catalog["schedules"]}
        for name in query.get("s", "").split(","):
            if name and name not in scheds:
                problems.append(f"s: unknown schedule {name!r}")
        for key in query:
            if "." in key:
                name, param = key.split(".", 1)
                if param not in scheds.get(name, set()):
                    problems.append(f"{key}: schedule {name!r} has no parameter {param!r}")
    if path == "/labs/optimizers":
        opts = {e["name"]: {p["name"] for p in e["params"]} for e in catalog["optimizers"]}
        chosen = query.get("o", "").split(",") if "o" in query else []
        problems += [f"o: unknown optimizer {o!r}" for o in chosen if o not in opts]
        if "preset" in query and not ("fn" in query and chosen):
            # the page records the last preset clicked but does not apply it from a link
            problems.append("preset alone does not set the page: link its full state (fn, o, …)")
        for key in query:
            m = re.fullmatch(r"o(\d+)\.(\w+)", key)
            if m and (int(m[1]) >= len(chosen) or m[2] not in opts.get(chosen[int(m[1])], set())):
                problems.append(f"{key}: no such optimizer parameter")
        fns = {e["name"]: {p["name"] for p in e["params"]} for e in catalog["test_functions"]}
        for key in query:
            if key.startswith("fp.") and key[3:] not in fns.get(query.get("fn", "saddle"), set()):
                problems.append(f"{key}: surface has no such parameter")
    return problems


def test_every_link_targets_a_route_and_its_url_state(
    app_client: TestClient, catalog: dict
) -> None:
    routes = route_paths(app_client)
    problems = []
    for qid, href in all_links():
        parts = urlsplit(href)
        if parts.path not in routes:
            problems.append(f"{qid}: {href}: no route {parts.path}")
            continue
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if len(query) != len(parse_qsl(parts.query, keep_blank_values=True)):
            problems.append(f"{qid}: {href}: repeated key")
        if parts.path == "/api-reference":
            html = app_client.get("/api-reference").text
            if parts.fragment and f'id="{parts.fragment}"' not in html:
                problems.append(f"{qid}: {href}: no #{parts.fragment} on the page")
            continue
        if parts.path == "/":
            problems += [f"{qid}: {href}: {p}" for p in check_playground_query(query, catalog)]
            continue
        if query:
            source = page_module(app_client, parts.path).read_text(encoding="utf-8")
            patterns = header_key_patterns(source)
            problems += [
                f"{qid}: {href}: {p}" for p in check_lab_query(parts.path, query, patterns, catalog)
            ]
    assert not problems, "\n".join(problems)


def test_link_check_catches_bad_links(app_client: TestClient, catalog: dict) -> None:
    """The checker itself fails on the mistakes it exists for."""
    grad = header_key_patterns(page_module(app_client, "/labs/gradients").read_text("utf-8"))
    assert (
        check_lab_query(
            "/labs/gradients", {"preset": "sigmoid_init", "b.depth": "3"}, grad, catalog
        )
        == []
    )
    assert check_lab_query("/labs/gradients", {"preset": "nope"}, grad, catalog)
    assert check_lab_query("/labs/gradients", {"depth": "3"}, grad, catalog)
    sched = header_key_patterns(page_module(app_client, "/labs/schedules").read_text("utf-8"))
    assert (
        check_lab_query("/labs/schedules", {"s": "step", "step.gamma": "0.5"}, sched, catalog) == []
    )
    assert check_lab_query("/labs/schedules", {"s": "natural_exp"}, sched, catalog)
    assert check_lab_query("/labs/schedules", {"step.decay_rate": "1"}, sched, catalog)
    opt = header_key_patterns(page_module(app_client, "/labs/optimizers").read_text("utf-8"))
    good = {"fn": "saddle", "o": "sgd,adam", "o1.betas": "0.9,0.99", "preset": "saddle"}
    assert check_lab_query("/labs/optimizers", good, opt, catalog) == []
    assert check_lab_query("/labs/optimizers", {"preset": "saddle"}, opt, catalog)
    assert check_lab_query("/labs/optimizers", {**good, "o0.betas": "0.9,0.99"}, opt, catalog)
    assert check_playground_query({"activation": "tanh", "hidden": "4"}, catalog) == []
    assert check_playground_query({"activation": "tanhh"}, catalog)
    assert check_playground_query({"optimizer.momentum": "0.9"}, catalog)  # no optimizer=
    assert check_playground_query({"optimizer": "adam", "optimizer.momentum": "0.9"}, catalog)
    assert check_playground_query({"learning_rate": "0.1"}, catalog)


def test_planned_pages_do_not_exist_yet(app_client: TestClient) -> None:
    """When a planned page lands, this fails: link it from the questions that name it (a
    "try" entry) and drop it from their `planned` list and from PLANNED_PAGES."""
    routes = route_paths(app_client)
    landed = sorted(p for p in PLANNED_PAGES if p in routes)
    users = {p: [q.id for _, q in all_questions() if p in q.planned] for p in landed}
    assert not landed, f"planned pages now exist; add their links: {users}"


def test_every_erratum_links_to_an_existing_page(app_client: TestClient) -> None:
    routes = route_paths(app_client)
    for _, q in all_questions():
        for e in q.errata:
            assert urlsplit(e.where).path in routes, (q.id, e.where)


# ---- API and page ---------------------------------------------------------------------------


def test_api_questions_serves_the_bank(app_client: TestClient) -> None:
    r = app_client.get("/api/questions")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == load_bank().count
    first = body["chapters"][0]["questions"][0]
    assert "try" in first and "try_" not in first  # the JSON field name, not Python's
    assert first["try"][0]["href"].startswith("/")
    op = app_client.app.openapi()["paths"]["/api/questions"]["get"]
    assert op["tags"] == ["questions"] and "localStorage" in op["description"]


def test_questions_page_and_nav(app_client: TestClient) -> None:
    r = app_client.get("/questions")
    assert r.status_code == 200
    assert 'data-testid="questions-page"' in r.text
    assert 'data-bank-url="/api/questions"' in r.text
    assert re.search(r'href="/questions"[^>]*data-testid="nav-questions"[^>]*aria-current', r.text)
    # every page of NAV is in the nav; labs (the default group) inside the Labs menu
    menu = r.text[r.text.index('id="nav-labs-menu"') :]
    menu = menu[: menu.index("</ul>")]
    for item in NAV:
        assert f'data-testid="nav-{item.key}"' in r.text
        assert (f'data-testid="nav-{item.key}"' in menu) == (item.group == "labs"), item.key
    assert 'href="/"' in r.text and 'data-testid="nav-playground"' not in menu


def test_a_new_nav_item_lands_in_the_labs_menu(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.routers import pages

    extra = pages.NavItem("newlab", "New lab", "/labs/gradients")
    assert extra.group == "labs"
    app = create_app(app_settings())
    app.state.templates.env.globals["nav"] = (*pages.NAV, extra)
    with TestClient(app) as c:
        html = c.get("/labs/sparsity").text
    menu = html[html.index('id="nav-labs-menu"') :]
    assert 'data-testid="nav-newlab"' in menu[: menu.index("</ul>")]
    # the current lab marks the menu button
    assert re.search(r'class="nav-menu-btn active"', html)


def test_ui_strings_exist_in_both_languages() -> None:
    en = json.loads((STATIC / "i18n/en.json").read_text(encoding="utf-8"))
    zh = json.loads((STATIC / "i18n/zh.json").read_text(encoding="utf-8"))
    used = set(re.findall(r'\bt\("(q\.[\w.]+)"', (STATIC / "js/questions.js").read_text("utf-8")))
    used |= set(re.findall(r"t\('(q\.[\w.]+)'\)", (ROOT / "templates/questions.html").read_text()))
    used |= {"nav.questions", "nav.labs"}
    assert used and used <= set(en) and used <= set(zh), used - (set(en) & set(zh))
