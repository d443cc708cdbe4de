"""The toy support dialogues the LSTM dialogue-GAN tests train on, and the tiny models that fit them: one place, so
the tests of training, evaluation and export read the same data."""

from collections.abc import Sequence

import torch

from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan.data import EncodedPairs, build_vocabulary, encode_pairs
from heygen_lib.dialogue_gan.lstm.discriminator import PairDiscriminator, PairDiscriminatorConfig
from heygen_lib.dialogue_gan.lstm.generator import Seq2SeqConfig, Seq2SeqGenerator
from heygen_lib.gan.text_data import Vocabulary

ITEMS = ("kettle", "toaster", "blender", "fridge", "lamp", "radio", "mixer", "heater")
RESPONSE_LEN = 8


def toy_pairs(items: Sequence[str] = ITEMS, question: str = "where is my {}?", thanks: str = "thanks",
              context_turns: int | None = None) -> list[Pair]:
    """One four-turn dialogue per item (question, "Your <item> ships today.", thanks, "You are welcome!"), as the
    agent's (context, response) pairs."""
    dialogues = [Dialogue(f"d{i}", (Turn("customer", question.format(item)), Turn("agent", f"Your {item} ships today."),
                                    Turn("customer", thanks), Turn("agent", "You are welcome!")), "toy")
                 for i, item in enumerate(items)]
    return build_pairs(dialogues, response_speaker="agent",
                       **({} if context_turns is None else {"context_turns": context_turns}))


def encoded(pairs: Sequence[Pair], context_len: int) -> tuple[Vocabulary, EncodedPairs]:
    vocab = build_vocabulary(pairs, max_size=100)
    return vocab, encode_pairs(pairs, vocab, context_len=context_len, response_len=RESPONSE_LEN)


def tiny_models(vocab: Vocabulary, attention: bool = True) -> tuple[Seq2SeqGenerator, PairDiscriminator]:
    """A 16-wide generator and a small discriminator, from seed 0."""
    torch.manual_seed(0)
    generator = Seq2SeqGenerator(Seq2SeqConfig(len(vocab), response_len=RESPONSE_LEN, embed_dim=16, hidden_dim=16,
                                               attention=attention))
    return generator, PairDiscriminator(PairDiscriminatorConfig(len(vocab), embed_dim=16, filters=8, mlp_dim=16))
