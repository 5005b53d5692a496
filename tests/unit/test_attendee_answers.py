"""Checking an attendee's answers: each kind's accepted shapes, normalization, refusals."""

from __future__ import annotations

import json
import uuid

import pytest

from builtin_plugins.orders.models import EventQuestion, QuestionKind
from builtin_plugins.orders.questions import AnswersInvalid, check_answers

STANDARD = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
VIP = uuid.UUID("00000000-0000-0000-0000-0000000000a2")


def ask(
    kind: QuestionKind,
    *,
    label: str = "Question",
    required: bool = False,
    options: list[str] | None = None,
    only: list[uuid.UUID] | None = None,
) -> EventQuestion:
    return EventQuestion(
        id=uuid.uuid4(),
        event_id=uuid.UUID(int=1),
        label=label,
        help_text="",
        kind=kind,
        required=required,
        options=options or [],
        ticket_type_ids=[str(ticket_type_id) for ticket_type_id in only or []],
        position=0,
    )


def check(questions: list[EventQuestion], answers, ticket_type_id: uuid.UUID = STANDARD):
    return check_answers(questions, ticket_type_id=ticket_type_id, answers=answers)


def refusal(questions: list[EventQuestion], answers, ticket_type_id=STANDARD) -> AnswersInvalid:
    with pytest.raises(AnswersInvalid) as raised:
        check(questions, answers, ticket_type_id)
    problem = raised.value
    assert problem.status == 422 and problem.code == "answers-invalid"
    return problem


def answer_of(question: EventQuestion, value):
    return check([question], {str(question.id): value})[str(question.id)]


# -- each kind, accepted and normalized ----------------------------------------------------


def test_text_is_trimmed_and_allowed_up_to_1000_characters():
    question = ask(QuestionKind.TEXT)
    assert answer_of(question, "  Vegetarian \n") == "Vegetarian"
    assert answer_of(question, "x" * 1000) == "x" * 1000


def test_long_text_keeps_inner_newlines_and_allows_10000_characters():
    question = ask(QuestionKind.LONG_TEXT)
    assert answer_of(question, "line one\nline two\n") == "line one\nline two"
    assert answer_of(question, "y" * 10_000) == "y" * 10_000


def test_choice_answer_is_one_of_the_options():
    question = ask(QuestionKind.CHOICE, options=["S", "M", "L"])
    assert answer_of(question, "M") == "M"


def test_multiple_choice_is_deduplicated_in_the_organizers_order():
    question = ask(QuestionKind.MULTIPLE_CHOICE, options=["Fri", "Sat", "Sun"])
    assert answer_of(question, ["Sun", "Fri", "Sun"]) == ["Fri", "Sun"]


def test_boolean_accepts_true_and_false_when_optional():
    question = ask(QuestionKind.BOOLEAN)
    assert answer_of(question, True) is True
    assert answer_of(question, False) is False


def test_number_accepts_integers_and_decimals():
    question = ask(QuestionKind.NUMBER)
    assert answer_of(question, 42) == 42
    assert answer_of(question, -1.5) == -1.5
    assert answer_of(question, 0) == 0


def test_date_is_iso_and_normalized():
    question = ask(QuestionKind.DATE)
    assert answer_of(question, "1990-02-28") == "1990-02-28"
    assert answer_of(question, " 2000-01-01 ") == "2000-01-01"


def test_answers_are_keyed_by_canonical_question_id_in_question_order():
    first, second = ask(QuestionKind.TEXT), ask(QuestionKind.NUMBER)
    result = check([first, second], {str(second.id).upper(): 3, str(first.id): "Ada"}, STANDARD)
    assert list(result) == [str(first.id), str(second.id)]
    assert result == {str(first.id): "Ada", str(second.id): 3}


def test_unanswered_optional_questions_are_left_out():
    text, many = ask(QuestionKind.TEXT), ask(QuestionKind.MULTIPLE_CHOICE, options=["a"])
    number = ask(QuestionKind.NUMBER)
    assert check([text, many, number], {str(text.id): "   ", str(many.id): []}) == {}
    assert check([text, many, number], None) == {}
    assert check([text, many, number], {str(number.id): None}) == {}


def test_no_questions_and_no_answers_is_fine():
    assert check([], None) == {}
    assert check([], {}) == {}


def test_questions_of_other_ticket_types_are_not_asked():
    vip_only = ask(QuestionKind.TEXT, required=True, only=[VIP])
    assert check([vip_only], None, STANDARD) == {}
    assert refusal([vip_only], None, VIP).extensions["reason"] == "required"


def test_the_result_is_json_storable():
    questions = [
        ask(QuestionKind.TEXT),
        ask(QuestionKind.MULTIPLE_CHOICE, options=["a", "b"]),
        ask(QuestionKind.NUMBER),
        ask(QuestionKind.DATE),
        ask(QuestionKind.BOOLEAN),
    ]
    values = ["hi", ["b"], 2.5, "2024-02-29", True]
    result = check(questions, {str(q.id): v for q, v in zip(questions, values, strict=True)})
    assert json.loads(json.dumps(result, allow_nan=False)) == result


# -- refusals -------------------------------------------------------------------------------


def test_required_question_unanswered_is_refused_and_named():
    question = ask(QuestionKind.TEXT, label="Dietary needs", required=True)
    for answers in (None, {}, {str(question.id): ""}, {str(question.id): "  "}):
        problem = refusal([question], answers)
        assert problem.extensions["question_id"] == str(question.id)
        assert problem.extensions["question"] == "Dietary needs"
        assert problem.extensions["reason"] == "required"
        assert "Dietary needs" in problem.detail


def test_required_multiple_choice_needs_at_least_one_option():
    question = ask(QuestionKind.MULTIPLE_CHOICE, required=True, options=["a", "b"])
    assert refusal([question], {str(question.id): []}).extensions["reason"] == "required"


def test_required_boolean_must_be_accepted():
    question = ask(QuestionKind.BOOLEAN, label="I accept the waiver", required=True)
    assert answer_of(question, True) is True
    problem = refusal([question], {str(question.id): False})
    assert problem.extensions["reason"] == "required"
    assert refusal([question], None).extensions["reason"] == "required"


@pytest.mark.parametrize(
    "key",
    ["5d1c4c1e-0a8e-4c55-9b43-8f3f0c7b1a11", "not-a-uuid", ""],
    ids=["unknown", "bad", "empty"],
)
def test_unknown_question_id_is_refused(key):
    question = ask(QuestionKind.TEXT)
    problem = refusal([question], {key: "x"})
    assert problem.extensions["reason"] == "unknown-question"
    assert problem.extensions["question_id"] == key


def test_answer_to_a_question_of_another_ticket_type_is_refused():
    vip_only = ask(QuestionKind.TEXT, only=[VIP])
    problem = refusal([vip_only], {str(vip_only.id): "x"}, STANDARD)
    assert problem.extensions["reason"] == "unknown-question"


def test_choice_not_among_options_is_refused():
    question = ask(QuestionKind.CHOICE, label="Size", options=["S", "M"])
    problem = refusal([question], {str(question.id): "XL"})
    assert problem.extensions["reason"] == "not-an-option"
    assert "XL" in problem.detail and "Size" in problem.detail
    # options match exactly: a case variant is another value
    assert refusal([question], {str(question.id): "s"}).extensions["reason"] == "not-an-option"


def test_multiple_choice_with_an_unknown_option_is_refused():
    question = ask(QuestionKind.MULTIPLE_CHOICE, options=["Fri", "Sat"])
    problem = refusal([question], {str(question.id): ["Fri", "Mon"]})
    assert problem.extensions["reason"] == "not-an-option"


@pytest.mark.parametrize(
    ("kind", "options", "value"),
    [
        (QuestionKind.TEXT, [], 12),
        (QuestionKind.TEXT, [], ["a"]),
        (QuestionKind.LONG_TEXT, [], {"a": 1}),
        (QuestionKind.CHOICE, ["a"], ["a"]),
        (QuestionKind.CHOICE, ["1"], 1),
        (QuestionKind.MULTIPLE_CHOICE, ["a"], "a"),
        (QuestionKind.MULTIPLE_CHOICE, ["a"], ["a", 1]),
        (QuestionKind.BOOLEAN, [], "true"),
        (QuestionKind.BOOLEAN, [], 1),
        (QuestionKind.NUMBER, [], "42"),
        (QuestionKind.NUMBER, [], True),
        (QuestionKind.DATE, [], 20240101),
    ],
)
def test_wrong_type_is_refused(kind, options, value):
    question = ask(kind, options=options)
    assert refusal([question], {str(question.id): value}).extensions["reason"] == "wrong-type"


@pytest.mark.parametrize(
    ("kind", "limit"), [(QuestionKind.TEXT, 1000), (QuestionKind.LONG_TEXT, 10_000)]
)
def test_too_long_text_is_refused(kind, limit):
    question = ask(kind)
    problem = refusal([question], {str(question.id): "z" * (limit + 1)})
    assert problem.extensions["reason"] == "too-long"
    assert str(limit) in problem.detail


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_number_not_finite_is_refused(value):
    question = ask(QuestionKind.NUMBER)
    assert refusal([question], {str(question.id): value}).extensions["reason"] == "not-finite"


def test_absurdly_large_number_is_refused():
    question = ask(QuestionKind.NUMBER)
    assert refusal([question], {str(question.id): 10**400}).extensions["reason"] == "too-large"


@pytest.mark.parametrize(
    "value",
    ["28/02/1990", "1990-02-30", "1990-02-28T10:00:00", "19900228", "1990-W01-1", "tomorrow", ""],
)
def test_date_not_iso_is_refused(value):
    question = ask(QuestionKind.DATE, required=value == "")
    reason = refusal([question], {str(question.id): value}).extensions["reason"]
    assert reason == ("required" if value == "" else "not-a-date")


@pytest.mark.parametrize("value", ["nul\x00byte", "lone \ud800 surrogate"])
def test_text_postgresql_cannot_store_is_refused(value):
    question = ask(QuestionKind.TEXT)
    assert refusal([question], {str(question.id): value}).extensions["reason"] == "wrong-type"


def test_every_problem_of_the_attendee_is_listed():
    name = ask(QuestionKind.TEXT, label="Name on badge", required=True)
    size = ask(QuestionKind.CHOICE, label="Size", options=["S"])
    problem = refusal([name, size], {str(size.id): "XL", "nope": 1})
    reasons = {(error["question"], error["reason"]) for error in problem.extensions["errors"]}
    assert reasons == {
        (None, "unknown-question"),
        ("Name on badge", "required"),
        ("Size", "not-an-option"),
    }
