"""Talk to the fine-tuned model, collect feedback on its replies, and turn the feedback into training pairs
(notebook 06). `Chatbot` works from plain Python, the command line (``python -m heygen_lib.chat``) and the
notebook widget (`heygen_lib.chat.widget`)."""

from heygen_lib.chat.chatbot import Chatbot, Reply, clean_message, fit_prompt, load_chatbot
from heygen_lib.chat.decoding import DecodingConfig
from heygen_lib.chat.feedback import FeedbackEvent, FeedbackStore, feedback_pairs, feedback_path, retraining_set

__all__ = ["Chatbot", "DecodingConfig", "FeedbackEvent", "FeedbackStore", "Reply", "clean_message",
           "feedback_pairs", "feedback_path", "fit_prompt", "load_chatbot", "retraining_set"]
