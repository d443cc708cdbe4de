"""Chat with a fine-tuned model in a terminal: ``python -m heygen_lib.chat --model artifacts/nlg/model``.

Type a message and press Enter. Commands: ``/good`` and ``/bad`` rate the last reply, ``/fix TEXT`` saves a better
reply for it (all three go to the feedback store), ``/reset`` starts over, ``/help`` lists them, ``/quit`` ends.
Ctrl-C stops a reply that is being written (the conversation goes on); Ctrl-C again, or Ctrl-D, quits.

Ordinary trouble gets one line and the session goes on: a line that is not UTF-8 text, a reply interrupted, feedback
that could not be saved, an unknown ``/command`` (never sent to the bot). The feedback file is checked before the
model loads, so a bad path never costs a chat; Ctrl-C while the model loads is one line, and a reader that goes away
(``... | head -1``) ends the chat without a word.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TextIO

from heygen_lib.nlg.decoding import STRATEGIES, DecodingConfig
from heygen_lib.chat.feedback import FeedbackStore, feedback_path
from heygen_lib.settings import input_folder

LOAD_INTERRUPTED = "(interrupted while loading the model: nothing was saved)"
COMMANDS = ("/good", "/bad", "/fix", "/reset", "/help", "/quit")
HELP = ("/good, /bad: rate the last reply · /fix TEXT: save a better reply · /reset · /help · /quit "
        "· Ctrl-C stops a reply, Ctrl-D quits")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = DecodingConfig()
    parser = argparse.ArgumentParser(prog="python -m heygen_lib.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="folder of a fine-tuned model (default: the one notebook 05 saves, artifacts/nlg/model)")
    parser.add_argument("--feedback", type=Path, default=None, help=f"feedback store (default: {feedback_path()})")
    parser.add_argument("--strategy", choices=STRATEGIES, default=d.strategy)
    parser.add_argument("--temperature", type=float, default=d.temperature)
    parser.add_argument("--top-k", type=int, default=d.top_k)
    parser.add_argument("--top-p", type=float, default=d.top_p)
    parser.add_argument("--repetition-penalty", type=float, default=d.repetition_penalty)
    parser.add_argument("--num-beams", type=int, default=d.num_beams)
    parser.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    return parser.parse_args(argv)


def input_lines(stdin: TextIO) -> Iterator[str | None]:
    """The lines typed, without their newline; None for a line that is not UTF-8 text (decoded from the raw bytes
    when the stream has them, so one bad line never breaks the stream)."""
    raw = getattr(stdin, "buffer", None)
    if raw is None:
        for line in stdin:
            yield line.rstrip("\n")
        return
    for line in iter(raw.readline, b""):
        try:
            yield line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield None


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the chat loop until /quit, Ctrl-D (end of input), a Ctrl-C while waiting for input, or until nobody reads
    the output any more (``... | head -1``); returns the exit status (2: the model, the settings or the feedback
    path is unusable; 130: Ctrl-C while the model loads)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        args = parse_args(argv)
        if args.model is not None:
            args.model = input_folder(args.model, "--model", "give the folder of a fine-tuned model (run notebook 05 "
                                                             "to save one in artifacts/nlg/model)")
        decoding = DecodingConfig(**{f.name: getattr(args, f.name) for f in fields(DecodingConfig)})
        store = FeedbackStore(args.feedback)
        store.log.check_writable()
        # torch and transformers load only now, once the settings are known to be good (about 20 s on 2 cores)
        with _ctrl_c_ends_at_once(LOAD_INTERRUPTED):
            from heygen_lib.chat.chatbot import load_chatbot
            from heygen_lib.nlg.finetune import model_dir

            args.model = args.model or model_dir()
            bot = load_chatbot(args.model, decoding)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # off the main thread, where no signal handler can be set
        print(LOAD_INTERRUPTED, file=sys.stderr)
        return 130

    def say(text: str = "", end: str = "\n") -> None:
        try:
            stdout.write(text + end)
            stdout.flush()
        except BrokenPipeError:  # not an OSError to the loop below: nothing failed to save
            raise _ReaderGone from None

    say(f"model {args.model} · {decoding.describe()} · feedback to {store.path}\n{HELP}")
    try:
        _converse(bot, store, str(args.model), input_lines(stdin), say)
    except _ReaderGone:
        _silence(stdout)
    return 0


@contextmanager
def _ctrl_c_ends_at_once(message: str) -> Iterator[None]:
    """Ctrl-C ends the process at once with `message` and exit status 130. Nothing is saved yet while the model
    loads; and a KeyboardInterrupt raised inside torch's or transformers' imports can land in a library's own
    ``except:``, which swallows it and leaves half-imported modules that fail later with a page of traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def end(signum, frame) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        os._exit(130)

    previous = signal.signal(signal.SIGINT, end)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _ReaderGone(Exception):
    """Whoever read the chat's output went away (``... | head -1``): the chat ends, quietly."""


def _converse(bot, store: FeedbackStore, model: str, lines: Iterator[str | None], say) -> None:
    """The chat loop: commands, messages and their streamed replies, one line for each ordinary trouble."""
    while True:
        try:
            message = next(lines, "/quit")
        except KeyboardInterrupt:
            say("\n(bye)")
            return
        if message is None:
            say("(that line is not UTF-8 text: ignored; check your terminal's encoding)")
            continue
        command, _, rest = message.strip().partition(" ")
        try:
            if command.startswith("/") and command not in COMMANDS:  # a typo is never sent to the bot
                say(f"(unknown command {command}; commands: {' '.join(COMMANDS).replace('/fix', '/fix TEXT')})")
            elif command == "/quit":
                return
            elif command == "/help":
                say(HELP)
            elif command == "/reset":
                bot.reset()
                say("(new conversation)")
            elif command in ("/good", "/bad"):
                store.rate(bot, command[1:], model=model)
                say(f"(saved: last reply rated {command[1:]})")
            elif command == "/fix":
                store.correct(bot, rest, model=model)
                say("(saved: correction for the last reply)")
            else:
                with closing(bot.stream(message)) as pieces:  # closing it ends the generation, even on Ctrl-C
                    say(f"{bot.bot}: {next(pieces, '')}", end="")  # bad input raises before anything is printed
                    for piece in pieces:
                        say(piece, end="")
                reply = bot.last_reply
                say(f"\n  ({'; '.join([reply.stats, *reply.notes])})")
        except KeyboardInterrupt:
            say("\n(reply stopped; it is not in the conversation. Ctrl-C again or Ctrl-D quits)")
        except IndexError:
            say("(no reply to give feedback on yet)")
        except ValueError as err:
            say(f"({err})")
        except OSError as err:
            say(f"(not saved: {err})")


def _silence(stream: TextIO) -> None:
    """Point a closed pipe's file descriptor at /dev/null, so Python's own flush at exit has nowhere to fail."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError):  # a stream without a file descriptor (io.StringIO) has nothing to flush there
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
