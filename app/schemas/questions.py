"""Models of the interview-question bank (``GET /api/questions``, page ``/questions``).

The bank is data: one JSON file per chapter in ``app/questions/`` (``NN_<chapter>.json``),
validated by these models when it is loaded (``app.questions.load_bank``) and by
``tests/app/test_questions.py``. Every number an answer states is listed in its ``checks`` and
recomputed with the engine by ``tests/core/test_question_numbers.py``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# pages that other issues are building; a question whose best demonstration is one of them
# names it in `planned` and links the nearest existing page meanwhile
PLANNED_PAGES: tuple[str, ...] = ()  # every planned page has landed and is linked

Href = Annotated[
    str,
    Field(
        pattern=r"^/[^\s]*$",
        description="A path of this app, with the query string that sets the page's state "
        "(URL-state keys the target page reads) and optionally a #fragment.",
        examples=["/labs/gradients?preset=sigmoid_init"],
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Text(_Strict):
    """The same text in English and Chinese."""

    en: str = Field(
        min_length=1, description="English text.", examples=["Why do gradients vanish?"]
    )
    zh: str = Field(min_length=1, description="Chinese text.", examples=["为什么梯度会消失？"])


class TryLink(_Strict):
    """A page state that demonstrates the answer, and what to look at there."""

    href: Href
    look_for: Text = Field(description="One line: what to look at on the target page.")


class Predict(_Strict):
    """ "Predict first": the reader picks an outcome before following the links."""

    choices: list[Text] = Field(min_length=2, max_length=5, description="The outcomes offered.")
    correct: int = Field(
        ge=0, description="Index of the correct choice in `choices`.", examples=[1]
    )

    @model_validator(mode="after")
    def _correct_in_range(self) -> Predict:
        if self.correct >= len(self.choices):
            raise ValueError(f"correct must be < {len(self.choices)} (the number of choices)")
        return self


class Erratum(_Strict):
    """A place where the interview notes are wrong."""

    notes: Text = Field(description="What the notes say.")
    correct: Text = Field(
        description="The correct statement or value (checked with the engine where it is a number)."
    )
    where: Href = Field(description="Where the app shows the correct value.")


class Check(_Strict):
    """A number the answer states, recomputed with the engine by the test suite: the engine's
    value rounded to ``digits`` decimals equals ``value``, and ``value`` written with
    ``digits`` decimals appears in the question's English and Chinese text."""

    calc: str = Field(
        description="Name of the engine computation (see tests/core/test_question_numbers.py).",
        examples=["sigmoid"],
    )
    args: dict[str, object] = Field(default_factory=dict, examples=[{"x": 2.4}])
    value: float = Field(examples=[0.9168])
    digits: int = Field(ge=0, le=8, examples=[4])


class Question(_Strict):
    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Unique over the bank; the page's URL state `q=<id>` opens it.",
        examples=["vanishing-why"],
    )
    topics: list[int] = Field(
        min_length=1,
        description="Syllabus topic numbers (1–76) the question covers.",
        examples=[[1, 14]],
    )
    question: Text
    answer: Text = Field(description="A short answer, with the formula where one belongs.")
    try_: list[TryLink] = Field(
        alias="try", min_length=1, description="Links to page states that demonstrate the answer."
    )
    predict: Predict | None = None
    errata: list[Erratum] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    planned: list[str] = Field(
        default_factory=list,
        description="Pages being built whose "
        f"demonstration would fit better: any of {list(PLANNED_PAGES)}.",
    )

    @model_validator(mode="after")
    def _planned_known(self) -> Question:
        unknown = [p for p in self.planned if p not in PLANNED_PAGES]
        if unknown:
            raise ValueError(f"planned: unknown pages {unknown}; allowed {list(PLANNED_PAGES)}")
        return self


class Chapter(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["gradients"])
    order: int = Field(ge=1, description="Position of the chapter (its file's NN prefix).")
    title: Text
    questions: list[Question] = Field(min_length=1)


class QuestionBank(BaseModel):
    """Every chapter in order."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(description="Number of questions.", examples=[80])
    chapters: list[Chapter]

    @model_validator(mode="after")
    def _unique_ids(self) -> QuestionBank:
        seen: set[str] = set()
        for chapter in self.chapters:
            for q in chapter.questions:
                if q.id in seen:
                    raise ValueError(f"duplicate question id {q.id!r}")
                seen.add(q.id)
        return self
