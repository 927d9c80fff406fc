"""Plotly figures of a search, drawn by ``optuna.visualization`` (the figures Optuna's users
know), as JSON text for ``plotly.io.from_json`` and the search lab."""

from __future__ import annotations

from collections.abc import Callable

import optuna
from optuna import visualization as vis
from optuna.trial import TrialState
from plotly.graph_objects import Figure

FIGURES: dict[str, tuple[Callable[[optuna.Study], Figure], int, int]] = {
    # name: (optuna function, completed trials needed, parameters needed)
    "history": (vis.plot_optimization_history, 1, 1),
    "parallel_coordinate": (vis.plot_parallel_coordinate, 1, 1),
    "slice": (vis.plot_slice, 1, 1),
    "contour": (vis.plot_contour, 2, 2),
    "param_importances": (vis.plot_param_importances, 2, 1),
    "intermediate_values": (vis.plot_intermediate_values, 0, 1),
}


class NotEnoughTrials(ValueError):
    """The figure needs more finished trials (or parameters) than the search has."""


def build(name: str, study: optuna.Study) -> str:
    fn, min_trials, min_params = FIGURES[name]
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    params = {p for t in done for p in t.params}
    if len(done) < min_trials:
        raise NotEnoughTrials(f"{name} needs {min_trials} completed trial(s); "
                              f"the search has {len(done)}")
    if done and len(params) < min_params:
        raise NotEnoughTrials(f"{name} needs {min_params} searched parameters")
    figure = fn(study)
    figure.update_layout(template="plotly_white")
    return str(figure.to_json())
