"""Chat with a fine-tuned model in a terminal: ``python -m heygen_lib.chat --model artifacts/nlg/model``.

Type a message and press Enter. Commands: ``/good`` and ``/bad`` rate the last reply, ``/fix TEXT`` saves a better
reply for it (all three go to the feedback store), ``/reset`` starts over, ``/help`` lists them, ``/quit`` ends.
Ctrl-C stops a reply that is being written (the conversation goes on); Ctrl-C again, or Ctrl-D, quits.

Ordinary trouble gets one line and the session goes on: a line that is not UTF-8 text, a reply interrupted, feedback
that could not be saved. The feedback file is checked before the model loads, so a bad path never costs a chat.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import fields
from pathlib import Path
from typing import TextIO

from heygen_lib.chat.decoding import STRATEGIES, DecodingConfig
from heygen_lib.chat.feedback import FeedbackStore, feedback_path
from heygen_lib.settings import input_folder

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
    """Run the chat loop until /quit, Ctrl-D (end of input) or a Ctrl-C while waiting for input; returns the exit
    status (2: the model, the settings or the feedback path is unusable)."""
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
        from heygen_lib.chat.chatbot import load_chatbot
        from heygen_lib.nlg.finetune import model_dir

        args.model = args.model or model_dir()
        bot = load_chatbot(args.model, decoding)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

    def say(text: str = "", end: str = "\n") -> None:
        stdout.write(text + end)
        stdout.flush()

    say(f"model {args.model} · {decoding.describe()} · feedback to {store.path}\n{HELP}")
    lines = input_lines(stdin)
    while True:
        try:
            message = next(lines, "/quit")
        except KeyboardInterrupt:
            say("\n(bye)")
            break
        if message is None:
            say("(that line is not UTF-8 text: ignored; check your terminal's encoding)")
            continue
        command, _, rest = message.strip().partition(" ")
        try:
            if command == "/quit":
                break
            elif command == "/help":
                say(HELP)
            elif command == "/reset":
                bot.reset()
                say("(new conversation)")
            elif command in ("/good", "/bad"):
                store.rate(bot, command[1:], model=str(args.model))
                say(f"(saved: last reply rated {command[1:]})")
            elif command == "/fix":
                store.correct(bot, rest, model=str(args.model))
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
