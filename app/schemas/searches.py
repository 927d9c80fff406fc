"""Request and response models of the searches API (hyperparameter search on Optuna)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.schemas.common import StrictModel
from app.schemas.runs import RunConfig
from app.search.spec import MAX_DIMENSIONS, MAX_GRID_POINTS, MAX_STEPS, MAX_TRIALS

PATH_DESCRIPTION = (
    "A RunConfig field: dots between objects, [k] for a list item, model.hidden[*] for every "
    "hidden layer's width (e.g. optimizer.lr, regularization.l2, batch_size, model.dropout)."
)


class FloatDimension(StrictModel):
    path: str = Field(description=PATH_DESCRIPTION, examples=["optimizer.lr"])
    type: Literal["float"]
    low: float = Field(description="Lower bound (inclusive).", examples=[1e-4])
    high: float = Field(description="Upper bound (inclusive), > low.", examples=[1.0])
    log: bool = Field(False, description="Sample (and grid) on a log scale; needs low > 0.")


class IntDimension(StrictModel):
    path: str = Field(description=PATH_DESCRIPTION, examples=["batch_size"])
    type: Literal["int"]
    low: int = Field(description="Lower bound (inclusive).", examples=[8])
    high: int = Field(description="Upper bound (inclusive); high - low a multiple of step.",
                      examples=[128])
    step: int = Field(1, ge=1, description="Spacing of the values (1 with log).")
    log: bool = Field(False, description="Sample on a log scale; needs low > 0 and step 1.")


class CategoricalDimension(StrictModel):
    path: str = Field(description=PATH_DESCRIPTION, examples=["optimizer.name"])
    type: Literal["categorical"]
    choices: list[bool | int | float | str] = Field(
        min_length=1, max_length=64, description="The values to try (grid: all of them).",
        examples=[["sgd", "adam"]])


Dimension = Annotated[FloatDimension | IntDimension | CategoricalDimension,
                      Field(discriminator="type")]


class SamplerSpec(StrictModel):
    name: Literal["grid", "random", "tpe"] = Field(
        "tpe", description="grid: every combination of `points` values per dimension; random: "
        "uniform (or log-uniform) draws; tpe: Optuna's Tree-structured Parzen Estimator.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Sampler seed (trial k uses seed, k).")
    points: int | None = Field(
        None, ge=2, le=MAX_GRID_POINTS,
        description="grid only: values per float/int dimension (default 5), log-spaced where "
        "log; categorical dimensions use every choice.")
    n_startup_trials: int | None = Field(
        None, ge=1, le=MAX_TRIALS, description="tpe only: random trials before TPE (default 10).")
    multivariate: bool | None = Field(None, description="tpe only: multivariate TPE.")


class PrunerSpec(StrictModel):
    name: Literal["none", "median", "successive_halving", "hyperband"] = Field(
        "none", description="Optuna pruner deciding at every report whether to stop a trial.")
    n_startup_trials: int | None = Field(
        None, ge=0, le=MAX_TRIALS, description="median: trials before pruning starts (5).")
    n_warmup_steps: int | None = Field(
        None, ge=0, le=MAX_STEPS, description="median: steps before a trial can be pruned (0).")
    min_resource: int | None = Field(
        None, ge=1, le=MAX_STEPS,
        description="successive_halving/hyperband: steps before the first rung "
        "(default report_every).")
    reduction_factor: int | None = Field(
        None, ge=2, le=100,
        description="successive_halving (4) / hyperband (3): rung reduction factor.")


class Objective(StrictModel):
    metric: Literal["val_loss", "val_accuracy"] = Field(
        "val_loss", description="Measured on the validation split in eval mode at the trial's "
        "current weights (val_loss: data loss without the penalty).")
    direction: Literal["minimize", "maximize"] | None = Field(
        None, description="Default: minimize val_loss, maximize val_accuracy.")


class SearchCreate(StrictModel):
    """A search: ``trials`` runs of ``base`` with the ``space`` dimensions set by a sampler."""

    base: RunConfig = Field(default_factory=RunConfig,
                            description="The run every trial starts from (defaults as for runs).")
    space: list[Dimension] = Field(min_length=1, max_length=MAX_DIMENSIONS,
                                   description="The hyperparameters to search.")
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    trials: int = Field(20, ge=1, le=MAX_TRIALS,
                        description="Budget (grid: at most the number of grid points).")
    steps: int = Field(200, ge=1, le=MAX_STEPS, description="Training steps per trial.")
    objective: Objective = Field(default_factory=Objective)
    pruner: PrunerSpec = Field(default_factory=PrunerSpec)
    report_every: int | None = Field(
        None, ge=1, le=MAX_STEPS,
        description="Steps between intermediate reports (pruning points); default steps // 10.")

    model_config = StrictModel.model_config | {
        "json_schema_extra": {"examples": [{
            "base": {"dataset": {"name": "spiral"}, "model": {"hidden": [16, 16]}},
            "space": [
                {"path": "optimizer.lr", "type": "float", "low": 1e-3, "high": 1.0, "log": True},
                {"path": "regularization.l2", "type": "float", "low": 1e-5, "high": 1e-1,
                 "log": True},
            ],
            "sampler": {"name": "tpe", "seed": 0},
            "trials": 30,
            "steps": 300,
            "objective": {"metric": "val_loss"},
            "pruner": {"name": "median"},
        }]}
    }


class TrialOut(BaseModel):
    number: int
    state: str = Field(description="WAITING | RUNNING | COMPLETE | PRUNED | FAIL")
    params: dict[str, Any]
    value: float | None = Field(description="Objective (COMPLETE; PRUNED: last reported).")
    intermediate_values: list[list[float | None]] = Field(description="[[step, value], ...]")
    steps: int = Field(description="Steps the trial trained.")
    run_config: dict[str, Any] | None
    wall_time: float | None = Field(description="Seconds the trial took.")
    worker: str | None = Field(description='"<hostname>:<pid>" of the process that ran it.')
    fail_reason: str | None
    retry_of: int | None = Field(description="The failed trial this one repeats.")
    requeued: bool = Field(description="Its worker stopped; a later trial repeats it.")


class SearchOut(BaseModel):
    id: str
    state: str = Field(description="queued | running | done | cancelled")
    created: float | None
    trials_total: int | None
    counts: dict[str, int]
    best: dict[str, Any] | None = Field(
        description="The best finished trial by the objective (validation only): `number`, "
        "`value`, `params` and `evaluation` — loss and accuracy on the train, val and test "
        "splits at its final weights (`test` only when `base.dataset.test_fraction` > 0). The "
        "test split is shown for this winner only, so no choice is ever made on it.")
    spec: dict[str, Any]
    trials: list[TrialOut] | None = None
    owner_token: str | None = Field(
        None, description="POST only: the creator's owner token (as for runs; also the "
        "`gradplay_owner` cookie). Listing, cancelling and deleting the search need it.")
