"""Talk to the fine-tuned model, collect feedback on its replies, and turn the feedback into training pairs
(notebook 06). `Chatbot` works from plain Python, the command line (``python -m heygen_lib.chat``) and the
notebook widget (`heygen_lib.chat.widget`).

The names below are imported on first use, so ``python -m heygen_lib.chat --help`` answers before torch loads."""

from importlib import import_module

_HOMES = {"Chatbot": "chatbot", "Reply": "chatbot", "clean_message": "chatbot", "fit_prompt": "chatbot",
          "load_chatbot": "chatbot", "DecodingConfig": "heygen_lib.nlg.decoding", "FeedbackEvent": "feedback",
          "FeedbackStore": "feedback", "feedback_pairs": "feedback", "feedback_path": "feedback",
          "retraining_set": "feedback"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    home = _HOMES[name]
    return getattr(import_module(home if "." in home else f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
