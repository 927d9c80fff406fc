"""Runs that survive a restart (issue 16): the run store, the signing key kept in the data
directory, lazy restoration after a restart, and the import of a run at step 0."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FAST: dict[str, Any] = {"dataset": {"n": 40}, "model": {"hidden": [3]}}


# ------------------------------------------------------------------------ import at step 0
@pytest.mark.parametrize("hidden", [[3], [4, 2], []])
def test_export_at_step_0_imports_with_history(client: TestClient, hidden: list[int]) -> None:
    """A run never stepped exports an empty history (per-layer columns with no rows); its
    import verifies against the replay instead of failing on the columns' shape."""
    run = client.post("/api/runs", json={**FAST, "model": {"hidden": hidden}}).json()
    exported = client.get(f"/api/runs/{run['id']}/export").json()
    assert exported["step"] == 0 and exported["history"]["grad_norm"] == []
    r = client.post("/api/runs/import", json=exported)
    assert r.status_code == 201, r.text
    assert r.json()["verified"] is True and r.json()["step"] == 0
    again = client.get(f"/api/runs/{r.json()['id']}/export").json()
    assert again["history_sha256"] == exported["history_sha256"]
    # a tampered empty history is still refused: one row where the replay has none
    exported["history"]["loss"] = [0.5]
    assert client.post("/api/runs/import", json=exported).status_code == 422
    exported["history"]["loss"] = []
    exported["history"]["grad_norm"] = [[]]  # one (empty) row where the replay has none
    assert client.post("/api/runs/import", json=exported).status_code == 422
