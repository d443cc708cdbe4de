"""Shared fixtures: a tiny, untrained GPT-2 that already knows the dialogue format's tokens (chat tests), and one torch
thread for modules of tiny recurrent models."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from heygen_lib.tiny_models import TinyCausalLMConfig, build_tiny_causal_lm

CHAT_TEXTS = ["where is my parcel", "my order is late", "sorry, what is the order number?", "it ships today, thanks"] * 5


@pytest.fixture(scope="session")
def chat_model_folder(tmp_path_factory):
    """The saved stand-in, built once per test run."""
    return build_tiny_causal_lm(CHAT_TEXTS, tmp_path_factory.mktemp("tiny"), TinyCausalLMConfig(vocab_size=300))


@pytest.fixture(scope="module")
def model_and_tokenizer(chat_model_folder):
    """A fresh copy per test module, so one module's changes to the model never reach another's."""
    return AutoModelForCausalLM.from_pretrained(chat_model_folder), AutoTokenizer.from_pretrained(chat_model_folder)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny LSTMs run faster on one thread than split across busy cores; the setting is restored afterwards.
    A module opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
