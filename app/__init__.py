"""GradPlay web app (FastAPI)."""
