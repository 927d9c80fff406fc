"""Plotly figures of a run, built with the ``plotly`` Python package.

``GET /api/runs/{id}/figures/{name}`` returns ``fig.to_json()`` so a notebook user can
``plotly.io.from_json(text)`` and get the same chart the browser shows. Non-finite values are
written as ``null`` (plotly's encoder does this for NaN).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from core.trainer import Run

MAX_POINTS = 5000


def _cols(run: Run, *fields: str) -> dict[str, np.ndarray]:
    return run.history.columns(["step", *fields], max_points=MAX_POINTS)


def _layout(title: str, **axes: object) -> go.Layout:
    return go.Layout(title={"text": title}, template="plotly_white", **axes)


def loss_figure(run: Run) -> go.Figure:
    c = _cols(run, "loss", "data_loss", "reg_loss", "val_loss")
    fig = go.Figure(layout=_layout("Loss", xaxis={"title": {"text": "step"}},
                                   yaxis={"title": {"text": "loss"}}))
    fig.add_scatter(x=c["step"], y=c["loss"], name="train loss (data + penalty)")
    if run.reg.l1 or run.reg.l2:
        fig.add_scatter(x=c["step"], y=c["data_loss"], name="data loss")
        fig.add_scatter(x=c["step"], y=c["reg_loss"], name="penalty")
    fig.add_scatter(x=c["step"], y=c["val_loss"], name="validation loss", connectgaps=True)
    return fig


def lr_figure(run: Run) -> go.Figure:
    c = _cols(run, "lr")
    n = max(run.step_count, 1)
    planned = run.schedule.series(n) if not run.schedule.stateful else None
    fig = go.Figure(layout=_layout("Learning rate", xaxis={"title": {"text": "step"}},
                                   yaxis={"title": {"text": "lr"}}))
    if planned is not None:
        fig.add_scatter(x=np.arange(n), y=planned, name="planned (current schedule)",
                        line={"dash": "dash"})
    fig.add_scatter(x=c["step"], y=c["lr"], name="actual")
    return fig


def grad_norm_figure(run: Run) -> go.Figure:
    c = _cols(run, "grad_norm")
    fig = go.Figure(layout=_layout("Gradient norm per layer", xaxis={"title": {"text": "step"}},
                                   yaxis={"title": {"text": "‖∂L/∂W‖"}, "type": "log"}))
    for k, name in enumerate(run.model.layer_names()):
        fig.add_scatter(x=c["step"], y=c["grad_norm"][:, k], name=name)
    return fig


def grad_heatmap_figure(run: Run) -> go.Figure:
    c = _cols(run, "grad_norm")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(c["grad_norm"].T)
    z[~np.isfinite(z)] = np.nan
    fig = go.Figure(layout=_layout("log10 gradient norm (layer x step)",
                                   xaxis={"title": {"text": "step"}},
                                   yaxis={"title": {"text": "layer"}}))
    fig.add_heatmap(x=c["step"], y=run.model.layer_names(), z=z, colorscale="Viridis",
                    colorbar={"title": {"text": "log10 ‖g‖"}})
    return fig


def weights_hist_figure(run: Run) -> go.Figure:
    snap = run.snapshot()
    fig = go.Figure(layout=_layout("Weight histograms", barmode="overlay",
                                   xaxis={"title": {"text": "w"}},
                                   yaxis={"title": {"text": "count"}}))
    for layer in snap["layers"]:
        h = layer["weights"]
        edges = np.asarray(h["edges"])
        if len(edges) < 2:
            continue
        fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=h["counts"], width=np.diff(edges),
                    name=f'{layer["name"]} ({h["exact_zeros"]} exact zeros)', opacity=0.6)
    return fig


def boundary_figure(run: Run) -> go.Figure:
    snap = run.snapshot()
    ds = run.dataset
    fig = go.Figure(layout=_layout("Model output on the data"))
    surface = snap.get("surface")
    if surface is not None:
        z = surface.get("prob", surface.get("value"))
        if z is None:
            z = surface["argmax"]
        fig.add_contour(x=surface["x"], y=surface["y"], z=z, colorscale="RdBu", opacity=0.7,
                        contours={"coloring": "heatmap"}, name="model")
        for split, x, y in (("train", ds.points_train, ds.y_train),
                            ("val", ds.points_val, ds.y_val)):
            labels = y[:, 0] if y.ndim == 2 else y
            fig.add_scatter(x=x[:, 0], y=x[:, 1], mode="markers", name=split,
                            marker={"color": labels, "colorscale": "RdBu", "line": {"width": 1},
                                    "symbol": "circle" if split == "train" else "diamond"})
    elif "curve" in snap:
        fig.add_scatter(x=ds.x_train[:, 0], y=ds.y_train[:, 0], mode="markers", name="train")
        fig.add_scatter(x=ds.x_val[:, 0], y=ds.y_val[:, 0], mode="markers", name="val")
        fig.add_scatter(x=snap["curve"]["x"], y=snap["curve"]["y"], name="model")
    elif "coefficients" in snap:
        coef = snap["coefficients"]
        idx = np.arange(len(coef["true"]))
        fig.add_bar(x=idx, y=coef["true"], name="true")
        fig.add_bar(x=idx, y=coef["learned"], name="learned")
    return fig


FIGURES: dict[str, Callable[[Run], go.Figure]] = {
    "loss": loss_figure,
    "lr": lr_figure,
    "grad_norm": grad_norm_figure,
    "grad_heatmap": grad_heatmap_figure,
    "weights_hist": weights_hist_figure,
    "boundary": boundary_figure,
}


def build(name: str, run: Run) -> str:
    """The named figure as Plotly JSON text."""
    return str(pio.to_json(FIGURES[name](run), validate=False))
