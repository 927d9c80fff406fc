"""Request and response models of ``/api/datasets`` (bring your own data)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.schemas.common import StrictModel

TaskName = Literal["classification", "regression"]

TARGET_HELP = ("Name of the target column (default: the last column); every other column is a "
               "feature.")
TASK_HELP = ("classification or regression; default: inferred (every target value an integer "
             "and 2..50 distinct values -> classification, else regression). classification "
             "of a non-integer target, or with one class, is a 422.")


class DatasetRows(StrictModel):
    """A table as JSON rows: ``columns`` names the columns, ``rows`` holds the numbers."""

    columns: list[str] = Field(description="Column names (the header), features and target.",
                               examples=[["x1", "x2", "label"]])
    rows: list[list[Any]] = Field(
        description="Data rows, one number per column; at most the server's max_samples rows "
        "and 100 feature columns. A non-number, NaN or ±inf is a 422 naming the row and column.",
        examples=[[[0.5, -1.25, 1], [1.0, 2.0, 0]]])
    target: str | None = Field(None, description=TARGET_HELP, examples=["label"])
    task: TaskName | None = Field(None, description=TASK_HELP)


class ColumnStats(BaseModel):
    name: str = Field(description="Column name.")
    min: float
    max: float
    mean: float
    std: float = Field(description="Population standard deviation (ddof = 0).")


class DatasetSummary(BaseModel):
    columns: list[ColumnStats] = Field(description="Per-column statistics, features then "
                                       "the target.")
    classes: list[float] | None = Field(None, description="Classification: the distinct "
                                        "labels, sorted (class ids 0..K-1 in this order).")
    class_counts: list[int] | None = Field(None, description="Rows per class.")
    engine_task: Literal["binary", "multiclass", "regression"] = Field(
        description="The task a run trains: 2 classes are binary (one logit), more multiclass.")
    input_dim: int = Field(description="Feature columns (= model inputs). 2 gets the "
                           "decision surface.")


class DatasetPreview(BaseModel):
    columns: list[str] = Field(description="Feature columns, then the target.")
    rows: list[list[float]] = Field(description="The first rows (at most 10).")


class DatasetInfo(BaseModel):
    """An uploaded table: use it in a run as ``dataset: {name: "custom", params: {id}}``."""

    id: str = Field(description="Content-addressed id (first 20 hex digits of a SHA-256 of "
                    "the parsed data, columns, target and task): the same table gets the same "
                    "id on every server.", examples=["3f2a9c0d1e4b5a6c7d8e"])
    task: TaskName
    n: int = Field(description="Data rows.")
    columns: list[str] = Field(description="Feature column names, in order.")
    target: str = Field(description="Target column name.")
    summary: DatasetSummary
    preview: DatasetPreview
