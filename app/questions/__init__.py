"""The interview-question bank: one JSON file per chapter in this folder (``NN_<id>.json``,
NN = the chapter's order), read and validated once (``app.schemas.questions``).

Adding a question is editing a chapter file; ``tests/app/test_questions.py`` validates the
bank (schema, every syllabus topic covered, every link a route and URL-state key of its page)
and ``tests/core/test_question_numbers.py`` recomputes every stated number with the engine.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from app.schemas.questions import Chapter, QuestionBank

BANK_DIR = Path(__file__).resolve().parent


def chapter_files(directory: Path = BANK_DIR) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9]_*.json"))


def read_bank(directory: Path = BANK_DIR) -> QuestionBank:
    """Parse and validate every chapter file (raises pydantic's ValidationError)."""
    chapters = []
    for path in chapter_files(directory):
        chapter = Chapter.model_validate(json.loads(path.read_text(encoding="utf-8")))
        if path.name != f"{chapter.order:02d}_{chapter.id}.json":
            raise ValueError(f"{path.name}: expected {chapter.order:02d}_{chapter.id}.json")
        chapters.append(chapter)
    chapters.sort(key=lambda c: c.order)
    count = sum(len(c.questions) for c in chapters)
    return QuestionBank(count=count, chapters=chapters)


@cache
def load_bank() -> QuestionBank:
    """The bank, read once per process."""
    return read_bank()
