from pathlib import Path

from heygen_lib.paths import PROJECT_ROOT, shown_path


def test_a_path_inside_the_kit_prints_relative_to_it():
    assert shown_path(PROJECT_ROOT / "artifacts" / "nlg" / "model") == "artifacts/nlg/model"


def test_artifacts_kept_elsewhere_print_under_the_setting_that_put_them_there(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "drive"))
    assert shown_path(tmp_path / "drive" / "chat" / "feedback.jsonl") == "$HEYGEN_ARTIFACTS_DIR/chat/feedback.jsonl"


def test_any_other_path_prints_as_given(tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path / "drive"))
    assert shown_path(tmp_path / "elsewhere.txt") == str(tmp_path / "elsewhere.txt")


def test_a_relative_path_is_read_from_the_working_folder(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    assert shown_path(Path("artifacts") / ".." / "data") == "data"
