"""Dialogue data: types, corpus loaders, cleaning, (context, response) pairs and leak-free splits."""

from heygen_lib.data.cleaning import CleaningConfig, CleaningReport, clean_dialogues, clean_text
from heygen_lib.data.dialogue import DataFormatError, Dialogue, Turn, format_dialogue
from heygen_lib.data.loaders import (
    CORPORA,
    dialogues_from_rows,
    load_chatterbot,
    load_chitchat,
    load_corpus,
    load_csv,
    load_hf_dataset,
    load_jsonl,
    load_support_set,
)
from heygen_lib.data.pair_files import load_pairs, save_pairs
from heygen_lib.data.pairs import (Pair, Splits, build_pairs, conversations_in_two_splits, format_pair, random_pair_split,
                                   shared_conversations, split_dialogues)
from heygen_lib.data.prepare import PreparedPairs, prepare_pairs

__all__ = [
    "CORPORA",
    "CleaningConfig",
    "CleaningReport",
    "DataFormatError",
    "Dialogue",
    "Pair",
    "PreparedPairs",
    "Splits",
    "Turn",
    "build_pairs",
    "clean_dialogues",
    "clean_text",
    "conversations_in_two_splits",
    "dialogues_from_rows",
    "format_dialogue",
    "format_pair",
    "load_chatterbot",
    "load_chitchat",
    "load_corpus",
    "load_csv",
    "load_hf_dataset",
    "load_jsonl",
    "load_pairs",
    "load_support_set",
    "prepare_pairs",
    "random_pair_split",
    "save_pairs",
    "shared_conversations",
    "split_dialogues",
]
