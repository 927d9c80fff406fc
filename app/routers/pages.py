"""HTML pages (Jinja2). Pages carry no inline scripts: each loads ES modules from /static/js and
receives data through ``data-*`` attributes, as the CSP requires."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    path: str


NAV: tuple[NavItem, ...] = (
    NavItem("playground", "Playground", "/"),
    NavItem("gradients", "Gradients lab", "/labs/gradients"),
    NavItem("schedules", "Schedules lab", "/labs/schedules"),
    NavItem("sparsity", "Sparsity lab", "/labs/sparsity"),
)


def _templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return _templates(request).TemplateResponse(request, "index.html", {"active": "playground"})


def _lab_placeholder(key: str) -> Callable[[Request], HTMLResponse]:
    item = next(i for i in NAV if i.key == key)

    def page(request: Request) -> HTMLResponse:
        # placeholder until the lab's own template exists
        return _templates(request).TemplateResponse(
            request, "base.html", {"active": key, "title": item.label, "placeholder": True}
        )

    page.__name__ = f"lab_{key}"
    return page


for _item in NAV[1:]:
    router.add_api_route(
        _item.path, _lab_placeholder(_item.key), methods=["GET"], response_class=HTMLResponse
    )
