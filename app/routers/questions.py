"""The interview-question bank as JSON (the page ``/questions`` renders it)."""

from __future__ import annotations

from fastapi import APIRouter

from app.questions import load_bank
from app.schemas.questions import QuestionBank

router = APIRouter(tags=["questions"])


@router.get("/api/questions", summary="Interview-question bank")
def questions() -> QuestionBank:
    """Every chapter and question of the interview-question bank, in English and Chinese:
    the question, a short answer, an optional "predict first" choice, "try it" links to page
    states of this app (path + URL-state query) with what to look for, the errata where the
    interview notes are wrong, and the numbers the answer states (``checks``, each recomputed
    with the engine by the test suite). Read-only and the same for every client; reading
    progress is kept by the browser (localStorage), never here."""
    return load_bank()
