import json
import math

import pytest

from heygen_lib.lessons import Lesson, LessonFailed, check_lessons, read_lessons


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_RUN_DIR", str(tmp_path))
    return tmp_path


def test_a_lost_effect_raises_in_strict_mode_naming_notebook_and_number(run_dir, monkeypatch):
    monkeypatch.setenv("HEYGEN_LESSONS", "strict")
    with pytest.raises(LessonFailed, match=r"05_fine_tuning.*perplexity ratio = 0.8, must be <= 0.5"):
        check_lessons("05_fine_tuning", [Lesson("perplexity ratio", 0.8, "<=", 0.5), Lesson("steps", 3, ">", 0)])


def test_a_lost_effect_only_shows_outside_strict_mode(run_dir, monkeypatch):
    monkeypatch.delenv("HEYGEN_LESSONS", raising=False)
    table = check_lessons("05_fine_tuning", [Lesson("perplexity ratio", 0.8, "<=", 0.5)])
    assert "| perplexity ratio | 0.8 | <= 0.5 | **no** |" in table


def test_results_are_recorded_per_notebook(run_dir, monkeypatch):
    monkeypatch.setenv("HEYGEN_LESSONS", "strict")
    check_lessons("01_dialogue_data", [Lesson("conversations in two splits", 0, "==", 0)])
    record = json.loads((run_dir / "01_dialogue_data.lessons.json").read_text())
    assert record["lessons"][0] == {"name": "conversations in two splits", "value": 0.0, "op": "==", "bound": 0,
                                    "why": "", "holds": True}


def test_nan_never_holds():
    assert not Lesson("final loss", math.nan, "<", 10).holds
    assert not Lesson("final loss", math.nan, ">", 10).holds


def test_bounds_are_inclusive_or_strict_as_written():
    assert Lesson("x", 0.5, "<=", 0.5).holds and not Lesson("x", 0.5, "<", 0.5).holds


def test_unknown_comparison_is_refused():
    with pytest.raises(ValueError, match="op must be one of"):
        Lesson("x", 1, "=<", 2)


def test_lessons_checked_in_several_sections_are_all_recorded(run_dir, monkeypatch):
    monkeypatch.delenv("HEYGEN_LESSONS", raising=False)
    check_lessons("03_text_gans", [Lesson("every loss finite", 1, "==", 1), Lesson("move / noise", 2.0, ">", 3)])
    check_lessons("03_text_gans", [Lesson("move / noise", 4.0, ">", 3), Lesson("copy rate", 0.1, "<=", 0.5)])
    recorded = read_lessons(run_dir / "03_text_gans.lessons.json")
    assert [(l["name"], l["value"], l["holds"]) for l in recorded] == [
        ("every loss finite", 1.0, True), ("move / noise", 4.0, True), ("copy rate", 0.1, True)]


def test_a_notebook_without_results_reads_as_none(run_dir):
    assert read_lessons(run_dir / "06_chatbot.lessons.json") is None
