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


class Keyboard:
    """A terminal's stdin: bytes line by line, and Ctrl-C (KeyboardInterrupt) where the script says "^C"."""

    def __init__(self, lines):
        self.lines = list(lines)
        self.buffer = self

    def readline(self):
        if not self.lines:
            return b""
        line = self.lines.pop(0)
        if line == b"^C":
            raise KeyboardInterrupt
        return line + b"\n"


def test_a_line_that_is_not_utf8_gets_one_line_and_the_session_goes_on(chat_model_folder, tmp_path):
    out = io.StringIO()
    stdin = Keyboard([b"hello", b"caf\xe9 \xff", b"where is my parcel", b"/good"])
    status = main(["--model", str(chat_model_folder), "--feedback", str(tmp_path / "fb.jsonl"), "--max-new-tokens",
                   "3"], stdin=stdin, stdout=out)
    assert status == 0
    assert out.getvalue().count("agent: ") == 2 and "(that line is not UTF-8 text: ignored" in out.getvalue()
    assert len(FeedbackStore(tmp_path / "fb.jsonl").load().events) == 1


def test_ctrl_c_stops_the_reply_not_the_session_and_a_second_one_quits(chat_model_folder, tmp_path, monkeypatch):
    from heygen_lib.chat.chatbot import Chatbot

    real_stream, calls = Chatbot.stream, []

    def interrupted_once(self, message):
        calls.append(message)
        if len(calls) == 1:
            yield "Hel"
            raise KeyboardInterrupt
        yield from real_stream(self, message)

    monkeypatch.setattr(Chatbot, "stream", interrupted_once)
    out = io.StringIO()
    stdin = Keyboard([b"hello", b"/good", b"my order is late", b"^C", b"never read"])
    status = main(["--model", str(chat_model_folder), "--feedback", str(tmp_path / "fb.jsonl"), "--max-new-tokens",
                   "3"], stdin=stdin, stdout=out)
    text = out.getvalue()
    assert status == 0 and calls == ["hello", "my order is late"]
    assert "(reply stopped; it is not in the conversation" in text and "(no reply to give feedback on yet)" in text
    assert text.count("tokens/s") == 1 and text.rstrip().endswith("(bye)")


def test_an_unusable_feedback_path_is_refused_before_the_chat_starts(chat_model_folder, tmp_path, capsys):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    for bad in (tmp_path / "folder", tmp_path / "file" / "fb.jsonl"):
        status = main(["--model", str(chat_model_folder), "--feedback", str(bad)], stdin=io.StringIO("hi\n"),
                      stdout=io.StringIO())
        err = capsys.readouterr().err
        assert status == 2 and err.startswith(f"error: cannot write to {bad}") and err.count("\n") == 1


def test_feedback_that_cannot_be_saved_gets_one_line_and_the_chat_goes_on(chat_model_folder, tmp_path):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))  # a full disk, for the feedback file
    try:
        status, out = chat(chat_model_folder, tmp_path, ["hello", "/good", "where is my parcel"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert status == 0 and "(not saved: " in out and "fb.jsonl" in out and out.count("agent: ") == 2
    assert FeedbackStore(tmp_path / "fb.jsonl").load().events == []


def test_a_damaged_model_file_is_one_error_line(chat_model_folder, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(chat_model_folder, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a copy cut short
    status = main(["--model", str(broken), "--feedback", str(tmp_path / "fb.jsonl")], stdin=io.StringIO(""),
                  stdout=io.StringIO())
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {broken}: the saved model could not be read")


def run_chat(folder, tmp_path, *, hook: str = "", **popen):
    """``python -m heygen_lib.chat`` in a child process, after `hook` (Python run first, e.g. to fake a Ctrl-C)."""
    code = (f"{hook}\nimport runpy, sys\nsys.argv = ['heygen_lib.chat', *sys.argv[1:]]\n"
            "runpy.run_module('heygen_lib.chat', run_name='__main__', alter_sys=True)")
    command = [sys.executable, "-c", code, "--model", str(folder), "--feedback", str(tmp_path / "fb.jsonl"),
               "--max-new-tokens", "3"]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_ctrl_c_while_torch_loads_is_one_line_without_a_traceback(chat_model_folder, tmp_path):
    # A real Ctrl-C (SIGINT) arrives as torch starts to import. Left to Python, the KeyboardInterrupt lands wherever the
    # import happens to be, and a library's own ``except:`` can swallow it and leave half-imported modules behind.
    # The finder below does both: sends the signal as torch starts to import, and swallows the KeyboardInterrupt.
    hook = ("import os, signal, sys, time\nclass CtrlC:\n    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'torch':\n            try:\n                os.kill(os.getpid(), signal.SIGINT)\n"
            "                time.sleep(1)\n            except KeyboardInterrupt:\n                pass\n"
            "sys.meta_path.insert(0, CtrlC())")
    child = run_chat(chat_model_folder, tmp_path, hook=hook)
    out, err = child.communicate(b"hello\n", timeout=120)
    assert child.returncode == 130 and out == b""
    assert err.decode() == "(interrupted while loading the model: nothing was saved)\n"


def test_a_reader_that_goes_away_ends_the_chat_quietly(chat_model_folder, tmp_path):
    """``python -m heygen_lib.chat ... | head -1``: the first line is read, then nobody reads."""
    child = run_chat(chat_model_folder, tmp_path)
    assert child.stdout.readline().startswith(b"model ")
    child.stdout.close()  # like head -1 exiting
    _, err = child.communicate(b"hello\n/good\nwhere is my parcel\n" * 3, timeout=120)
    assert child.returncode == 0 and err == b""


def test_an_unknown_command_is_one_line_listing_the_commands_and_never_reaches_the_bot(chat_model_folder, tmp_path,
                                                                                     monkeypatch):
    from heygen_lib.chat.chatbot import Chatbot

    sent = []

    def stream(self, message):
        sent.append(message)
        yield "ok"

    monkeypatch.setattr(Chatbot, "stream", stream)
    status, out = chat(chat_model_folder, tmp_path, ["/hlep", "/goood me", "/"])
    assert status == 0 and sent == []
    lines = [line for line in out.splitlines() if "unknown command" in line]
    assert lines == [f"(unknown command {c}; commands: /good /bad /fix TEXT /reset /help /quit)"
                     for c in ("/hlep", "/goood", "/")]


def test_bidi_and_zero_width_characters_never_reach_the_feedback_store(chat_model_folder, tmp_path):
    hidden = "\u202e\u200b\u200e\u2066\ufeff\u2060"  # right-to-left override, zero-width space, LRM, isolate, BOM, WJ
    status, _ = chat(chat_model_folder, tmp_path, [f"where is my {hidden}parcel", "/good",
                                                    f"/fix Sorry{hidden}! It ships \u200btoday 👩\u200d💻"])
    assert status == 0
    events = FeedbackStore(tmp_path / "fb.jsonl").load().events
    assert [e.context[0].text for e in events] == ["where is my parcel"] * 2
    assert events[1].correction == "Sorry! It ships today 👩\u200d💻"  # the joiner of an emoji sequence stays
    stored = (tmp_path / "fb.jsonl").read_text(encoding="utf-8")
    assert not any(char in stored for char in hidden)
