import io
import subprocess
import sys

from heygen_lib.chat import FeedbackStore
from heygen_lib.chat.__main__ import main


def chat(folder, tmp_path, lines, *options):
    out = io.StringIO()
    argv = ["--model", str(folder), "--feedback", str(tmp_path / "fb.jsonl"), "--max-new-tokens", "4", *options]
    status = main(argv, stdin=io.StringIO("".join(line + "\n" for line in lines)), stdout=out)
    return status, out.getvalue()


def test_a_conversation_with_feedback_commands_lands_in_the_store(chat_model_folder, tmp_path):
    status, out = chat(chat_model_folder, tmp_path, ["/good", "where is my parcel", "/good", "   ", "my order is late",
                                          "/fix Sorry! What is the order number?", "/reset", "hello", "/bad", "/quit",
                                          "never read"], "--strategy", "greedy")
    assert status == 0
    assert "greedy max_new_tokens=4" in out and out.count("agent: ") == 3 and out.count("tokens/s") == 3
    assert "(no reply to give feedback on yet)" in out and "(empty message" in out
    assert "never read" not in out
    events = FeedbackStore(tmp_path / "fb.jsonl").load().events
    assert [(e.turn, e.rating, e.correction) for e in events] == [
        (1, "good", None), (3, None, "Sorry! What is the order number?"), (1, "bad", None)]
    assert events[1].context[0].text == "where is my parcel" and events[1].decoding["strategy"] == "greedy"
    assert events[2].conversation != events[0].conversation  # /reset started a new conversation


def test_bad_settings_or_a_missing_model_exit_with_a_clear_error(chat_model_folder, tmp_path, capsys):
    assert chat(chat_model_folder, tmp_path, [], "--temperature", "0")[0] == 2
    assert "temperature must be > 0" in capsys.readouterr().err
    assert chat(tmp_path / "nothing", tmp_path, [])[0] == 2
    assert "run notebook 05" in capsys.readouterr().err


def test_the_module_runs_as_a_command(chat_model_folder, tmp_path):
    command = [sys.executable, "-m", "heygen_lib.chat", "--model", str(chat_model_folder), "--max-new-tokens", "3",
               "--feedback", str(tmp_path / "fb.jsonl")]
    result = subprocess.run(command, input="hello\n/bad\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "agent: " in result.stdout and "rated bad" in result.stdout
    assert len(FeedbackStore(tmp_path / "fb.jsonl").load().events) == 1
