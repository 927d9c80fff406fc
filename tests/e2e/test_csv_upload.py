"""Browser test of "Upload CSV" (bring your own data): upload a 2-feature, 2-class CSV in the
playground's data panel, see the server's preview and inferred task, train on it and see the
decision surface; errors at the field; a link with an unknown dataset id names what it dropped."""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import SCREENSHOT_DIR, PageErrors, save_screenshot
from tests.e2e.playground_util import open_playground, owner_headers, run_id, settled_box

pytestmark = pytest.mark.e2e


def blobs_csv(n: int = 120) -> bytes:
    rng = np.random.default_rng(7)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 2)) * 0.8 + np.where(y[:, None] == 1, 2.0, -2.0)
    lines = ["height,weight,label"] + [f"{a:.4f},{b:.4f},{c}" for (a, b), c in
                                       zip(x.tolist(), y.tolist(), strict=True)]
    return ("\n".join(lines) + "\n").encode()


def forget_http_errors(page_errors: PageErrors, status: int) -> None:
    """Chromium logs every 4xx fetch as a console error: the ones this test provokes on purpose
    are expected (anything else still fails the test)."""
    page_errors.messages[:] = [m for m in page_errors.messages
                               if f"status of {status}" not in m]


def upload(page: Page, data: bytes, name: str = "blobs.csv") -> None:
    page.get_by_test_id("csv-file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}])



def step_ten_and_wait_for_the_boundary(page: Page) -> Locator:
    """Train 10 steps; the decision-surface chart, once it has drawn them."""
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", "10")
    boundary = page.get_by_test_id("chart-boundary")
    expect(boundary).to_have_attribute("data-state", "ready")
    return boundary

def test_upload_csv_preview_train_and_decision_surface(page: Page, live_server: str) -> None:
    open_playground(page)
    first = run_id(page)
    upload(page, blobs_csv())
    info = page.get_by_test_id("csv-info")
    expect(info).to_contain_text("120 rows")
    expect(info).to_contain_text("classification (2 classes)")
    expect(info).to_have_attribute("data-task", "classification")
    preview = page.get_by_test_id("csv-preview")
    expect(preview.locator("th")).to_have_text(["height", "weight", "label"])
    expect(preview.locator("tbody tr")).to_have_count(5)
    first_row = blobs_csv().decode().splitlines()[1].split(",")
    expect(preview.locator("tbody tr").first.locator("td")).to_have_text(
        [str(float(first_row[0])), str(float(first_row[1])), first_row[2]])
    expect(page.get_by_test_id("dataset")).to_have_value("custom")
    # the run switches to the table (a new run), the id goes into the URL
    page.wait_for_function(
        "(old) => { const r = document.querySelector('[data-testid=playground]');"
        " return r.dataset.runId && r.dataset.runId !== old; }", arg=first)
    expect(page).to_have_url(re.compile(r"dataset=custom&dataset\.id=[0-9a-f]{20}"))
    ident = re.search(r"dataset\.id=([0-9a-f]{20})", page.url)
    assert ident is not None
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready")
    rid = run_id(page)
    cfg = httpx.get(f"{live_server}/api/runs/{rid}", headers=owner_headers(page), timeout=10).json()
    assert cfg["config"]["dataset"]["name"] == "custom"
    assert cfg["config"]["dataset"]["params"] == {"id": ident.group(1)}
    assert cfg["config"]["dataset"]["n"] == 120 and cfg["task"] == "binary"
    expect(page.get_by_test_id("samples")).to_be_hidden()  # n and noise do not apply
    boundary = step_ten_and_wait_for_the_boundary(page)
    page.wait_for_function(
        "() => { const d = document.querySelector('[data-testid=chart-boundary]').data;"
        " return d && d.some((t) => t.type === 'heatmap' && t.z && t.z.length > 2); }")
    save_screenshot(page, "csv-upload")
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("section-data").screenshot(
        path=str(SCREENSHOT_DIR / "csv-upload-panel.png"))
    boundary.screenshot(path=str(SCREENSHOT_DIR / "csv-upload-boundary.png"))
    # a reload of the link keeps the table and shows its preview again
    page.reload()
    expect(page.get_by_test_id("playground")).to_have_attribute("data-ready", "true",
                                                                timeout=15000)
    expect(page.get_by_test_id("dataset")).to_have_value("custom")
    expect(page.get_by_test_id("csv-info")).to_contain_text("120 rows")


def test_upload_errors_are_shown_at_the_field(page: Page, page_errors: PageErrors) -> None:
    open_playground(page)
    upload(page, b"a,b,label\n1,2,0\n3,abc,1\n", "bad.csv")
    error = page.locator("[data-testid=csv-upload] [data-testid=field-error]")
    expect(error).to_have_text("row 3, column \"b\": 'abc' is not a number")
    expect(page.get_by_test_id("csv-file")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("dataset")).not_to_have_value("custom")
    upload(page, b"a,b,label\n1,2,0\n3,4\n", "ragged.csv")
    expect(error).to_contain_text("row 3")
    forget_http_errors(page_errors, 422)


def test_unknown_dataset_id_in_a_link_is_named_and_dropped(page: Page,
                                                           page_errors: PageErrors) -> None:
    page.goto("/?dataset=custom&dataset.id=" + "f" * 20)
    expect(page.get_by_test_id("playground")).to_have_attribute("data-ready", "true",
                                                                timeout=15000)
    dropped = page.get_by_test_id("link-dropped")
    expect(dropped).to_be_visible()
    expect(dropped).to_contain_text("dataset.params.id")
    expect(page.get_by_test_id("dataset")).to_have_value("circle")
    forget_http_errors(page_errors, 422)
    forget_http_errors(page_errors, 404)


def test_upload_in_chinese_with_large_text(page: Page) -> None:
    open_playground(page)
    page.get_by_test_id("lang-toggle").click()
    page.get_by_test_id("font-toggle").click()
    upload(page, blobs_csv(60))
    info = page.get_by_test_id("csv-info")
    expect(info).to_contain_text("60 行", timeout=20000)
    expect(info).to_contain_text("分类（2 类）")
    expect(page.locator("label[for=pg-csv-file]")).to_have_text("上传 CSV")
    expect(page).to_have_url(re.compile(r"dataset=custom"), timeout=20000)  # the new run
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready",
                                                            timeout=20000)
    page.get_by_test_id("csv-upload").scroll_into_view_if_needed()
    box = settled_box(page.get_by_test_id("csv-upload"))
    panel = settled_box(page.get_by_test_id("section-data"))
    assert box["x"] + box["width"] <= panel["x"] + panel["width"] + 1  # nothing overflows
    save_screenshot(page, "csv-upload-zh-large")
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("section-data").screenshot(
        path=str(SCREENSHOT_DIR / "csv-upload-zh-large-panel.png"))


def test_upload_fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_playground(page)
    if page.get_by_test_id("controls-toggle").get_attribute("aria-expanded") != "true":
        page.get_by_test_id("controls-toggle").click()
    upload(page, blobs_csv(40))
    expect(page.get_by_test_id("csv-info")).to_contain_text("40 rows", timeout=20000)
    expect(page).to_have_url(re.compile(r"dataset=custom"), timeout=20000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "ready",
                                                            timeout=20000)
    for testid in ("csv-upload", "csv-file", "csv-target", "csv-task", "csv-preview"):
        expect(page.get_by_test_id(testid)).to_be_visible(timeout=10000)
        box = settled_box(page.get_by_test_id(testid))
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, testid
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("section-data").screenshot(
        path=str(SCREENSHOT_DIR / "csv-upload-phone-panel.png"))
    # the task override re-sends the file: the server's answer says regression
    page.get_by_test_id("csv-task").select_option("regression")
    expect(page.get_by_test_id("csv-info")).to_have_attribute("data-task", "regression")
    expect(page.get_by_test_id("csv-info")).to_contain_text("target label · regression")
    expect(page.get_by_test_id("csv-task")).to_have_value("regression")


# ------------------------------------------------------------------ the table's column names

TAG_NAME = "<b>x</b>"  # user text: must show literally, never as bold markup
ZH_NAME = "每日平均睡眠时间（小时）与学习成绩的关系测量值"  # long and wide (CJK)


def named_table(live_server: str) -> dict[str, object]:
    rng = np.random.default_rng(11)
    y = np.arange(80) % 2
    x = rng.normal(size=(80, 2)) * 0.7 + np.where(y[:, None] == 1, 1.5, -1.5)
    rows = np.column_stack([x.round(4), np.where(y == 1, 7, 3)]).tolist()
    r = httpx.post(f"{live_server}/api/datasets", timeout=20, json={
        "columns": [TAG_NAME, ZH_NAME, "grade"], "rows": rows})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def axis_titles(page: Page, testid: str) -> tuple[str, str]:
    """The axis titles as the chart shows them (SVG text, entities decoded) and whether any
    of them holds a bold tspan (markup read from the name)."""
    return page.evaluate("""(id) => {
        const host = document.querySelector(`[data-testid=${id}]`);
        const text = (sel) => {
            const n = host.querySelector(sel);
            return n ? n.textContent : null;
        };
        const bold = '.g-xtitle tspan[style*="bold"], .g-ytitle tspan[style*="bold"]';
        return [text('.g-xtitle text'), text('.g-ytitle text'),
                host.querySelectorAll(bold).length];
    }""", testid)


def test_a_tables_column_names_label_its_charts(page: Page, live_server: str) -> None:
    # built-in data keeps x₁ / x₂
    open_playground(page, "/?dataset=circle&hidden=4,3&activation=tanh&seed=3")
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("chart-boundary")).to_have_attribute("data-state", "ready")
    page.wait_for_function("() => document.querySelector('[data-testid=chart-boundary] .g-xtitle')")
    assert axis_titles(page, "chart-boundary")[:2] == ["x₁", "x₂"]

    info = named_table(live_server)
    assert info["columns"] == [TAG_NAME, ZH_NAME]
    open_playground(page, f"/?dataset=custom&dataset.id={info['id']}&hidden=4,3&activation=tanh"
                          "&seed=3")
    expect(page.get_by_test_id("dataset")).to_have_value("custom")
    boundary = step_ten_and_wait_for_the_boundary(page)
    page.wait_for_function(
        "() => { const n = document.querySelector('[data-testid=chart-boundary] .g-xtitle');"
        " return n && n.textContent.includes('x</b>'); }")
    x_title, y_title, bold = axis_titles(page, "chart-boundary")
    assert x_title == TAG_NAME and bold == 0  # literal, not markup
    assert y_title is not None and y_title.endswith("…") and ZH_NAME.startswith(y_title[:-1])
    assert len(y_title) < len(ZH_NAME)
    # hover texts name the columns (escaped for Plotly) and the table's own labels (3 / 7)
    traces = page.evaluate("""() => document.querySelector('[data-testid=chart-boundary]').data
        .map((t) => ({type: t.type, hover: t.hovertemplate || '', name: t.name || '',
                      custom: t.customdata ? t.customdata.slice(0, 200) : null}))""")
    heat = next(t for t in traces if t["type"] == "heatmap")
    assert "&#60;b&#62;x&#60;/b&#62; %{x:.2f}" in heat["hover"] and ZH_NAME in heat["hover"]
    points = [t for t in traces if t["custom"]]
    assert points and all(set(t["custom"]) <= {3, 7} for t in points)
    assert all("grade = %{customdata}" in t["hover"] for t in points)
    assert {"grade = 3", "grade = 7"} <= {t["name"] for t in traces}
    boundary.screenshot(path=str(SCREENSHOT_DIR / "csv-column-names-boundary.png"))

    # the network diagram: input units, first-layer weights and the maps' axes
    net = page.get_by_test_id("network-diagram")
    net.scroll_into_view_if_needed()
    expect(page.get_by_test_id("net-input")).to_have_count(2)
    titles = page.evaluate("""() => [...document.querySelectorAll('[data-testid=net-input] title')]
        .map((t) => t.textContent)""")
    assert titles == [f"input 1: {TAG_NAME}", f"input 2: {ZH_NAME}"]
    unit = page.locator('[data-testid=neuron-map][data-layer="0"][data-unit="1"]')
    unit.hover()
    zoom = page.get_by_test_id("neuron-zoom")
    expect(zoom).to_have_attribute("visibility", "visible")
    lines = zoom.locator("text").all_text_contents()
    assert lines[1].startswith(f"w1 ({TAG_NAME}) = ") and lines[2].startswith("w2 (每日平均睡眠")
    assert lines[-1].startswith(f"map: {TAG_NAME} →, 每日平均睡眠")
    zoom_box = settled_box(zoom.locator("rect").first)
    svg_box = settled_box(page.get_by_test_id("network-svg").locator("svg"))
    assert svg_box["x"] - 1 <= zoom_box["x"] and \
        zoom_box["x"] + zoom_box["width"] <= svg_box["x"] + svg_box["width"] + 1
    for k in range(len(lines)):  # every line inside its box
        line = settled_box(zoom.locator("text").nth(k))
        assert line["x"] + line["width"] <= zoom_box["x"] + zoom_box["width"] + 1, lines[k]
    net.screenshot(path=str(SCREENSHOT_DIR / "csv-column-names-network.png"))

    # Chinese: the same names, the words around them translated
    page.get_by_test_id("lang-toggle").click()
    page.mouse.move(5, 5)
    expect(page.get_by_test_id("network-legend")).to_contain_text("悬停", timeout=10000)
    unit.hover()
    expect(zoom).to_contain_text("图：")
    expect(zoom).to_contain_text(TAG_NAME)
    assert axis_titles(page, "chart-boundary")[0] == TAG_NAME
    net.screenshot(path=str(SCREENSHOT_DIR / "csv-column-names-network-zh.png"))
    save_screenshot(page, "csv-column-names-zh")


def test_a_wide_table_link_fetches_no_points(page: Page, live_server: str) -> None:
    """A table of more than 2 feature columns has no surface: the link's run is shown without
    downloading its points (GET .../data?points=false), and training works as usual."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 12)).round(5)
    y = (x[:, 0] - x[:, 3] > 0).astype(int)
    r = httpx.post(f"{live_server}/api/datasets", timeout=20, json={
        "columns": [f"feature {j}" for j in range(12)] + ["label"],
        "rows": np.column_stack([x, y]).tolist()})
    assert r.status_code == 201, r.text
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url) if "/data" in req.url else None)
    open_playground(page, f"/?dataset=custom&dataset.id={r.json()['id']}&hidden=4")
    data_urls = [u for u in urls if "/api/runs/" in u]
    assert data_urls and all(u.endswith("/data?points=false") for u in data_urls), data_urls
    page.get_by_test_id("step-10").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", "10")
    expect(page.get_by_test_id("net-input")).to_have_count(12)
    # an epoch is the table's training rows / batch size (n_train from the server)
    rid = run_id(page)
    headers = owner_headers(page)
    cfg = httpx.get(f"{live_server}/api/runs/{rid}", headers=headers, timeout=10).json()
    lean = httpx.get(f"{live_server}/api/runs/{rid}/data?points=false", headers=headers,
                     timeout=10).json()
    epoch = -(-lean["n_train"] // cfg["config"]["batch_size"])
    page.get_by_test_id("step-epoch").click()
    expect(page.get_by_test_id("step-counter")).to_have_attribute("data-step", str(10 + epoch))
