"""Codes people read aloud (kernel.codes): the right letters, the right length, every
letter as likely as any other, and no two alike."""

from collections import Counter

from kernel.codes import CROCKFORD_ALPHABET, display_code, random_code


def test_a_code_has_its_length_in_crockfords_letters() -> None:
    for length in (1, 4, 10, 16):
        code = random_code(length)
        assert len(code) == length and set(code) <= set(CROCKFORD_ALPHABET)
    assert random_code(0) == ""


def test_every_letter_is_drawn_as_often_as_any_other() -> None:
    drawn = Counter(letter for _ in range(20_000) for letter in random_code(10))
    expected = 200_000 / len(CROCKFORD_ALPHABET)
    assert set(drawn) == set(CROCKFORD_ALPHABET)
    # 8 % is over six standard deviations of a fair draw: only a bias gets there
    assert all(abs(count - expected) < 0.08 * expected for count in drawn.values()), drawn


def test_neighbouring_letters_are_drawn_independently() -> None:
    codes = [random_code(10) for _ in range(20_000)]
    pairs = Counter(code[i : i + 2] for code in codes for i in range(9))
    expected = 180_000 / len(CROCKFORD_ALPHABET) ** 2
    assert len(pairs) == len(CROCKFORD_ALPHABET) ** 2
    # 40 % is over five standard deviations of a fair draw
    assert all(abs(count - expected) < 0.4 * expected for count in pairs.values())


def test_codes_do_not_repeat_and_read_in_groups() -> None:
    codes = {random_code(10) for _ in range(10_000)}
    assert len(codes) == 10_000
    assert display_code("K7Q2M9XD4TPA") == "K7Q2-M9XD-4TPA"
