"""Hyperparameter search on Optuna: request checks (``spec``), studies in a storage (``store``),
trial workers (``worker``, ``gradplay worker``), the server's worker processes (``pool``) and the
server-side facade (``manager``). Imports Optuna; the engine (``core``) stays free of it."""
