"""Discriminator accuracy is the share judged right on each side: a judge that knows the answer scores 1, its
inverse scores 0, and one that calls everything real scores 1 on real pairs and 0 on every negative kind."""

import pytest
import torch
from torch import nn

from heygen_lib.data import Dialogue, Turn, build_pairs
from heygen_lib.dialogue_gan.data import build_vocabulary, encode_pairs
from heygen_lib.dialogue_gan.lstm.evaluation import discriminator_accuracy
from heygen_lib.dialogue_gan.lstm.generator import Seq2SeqConfig, Seq2SeqGenerator
from heygen_lib.dialogue_gan.lstm.training import DialogueGANConfig, DialogueGANTrainer
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.training import GANTrainer, TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ConstantJudge(nn.Module):
    """Calls every pair real (a large positive logit) or every pair fake."""

    def __init__(self, says_real: bool):
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(10.0 if says_real else -10.0))
        self.device = torch.device("cpu")

    def forward(self, contexts, lengths, responses):
        return self.logit.expand(len(responses))

    def probability(self, contexts, lengths, responses):
        return torch.sigmoid(self(contexts, lengths, responses))


@pytest.fixture(scope="module")
def dialogue_data():
    dialogues = [Dialogue(f"d{i}", (Turn("customer", f"where is my {item}?"), Turn("agent", f"Your {item} ships today.")),
                          "toy") for i, item in enumerate(["kettle", "toaster", "blender", "fridge", "lamp", "radio"])]
    pairs = build_pairs(dialogues, response_speaker="agent")
    vocab = build_vocabulary(pairs, max_size=100)
    torch.manual_seed(0)
    generator = Seq2SeqGenerator(Seq2SeqConfig(len(vocab), response_len=8, embed_dim=8, hidden_dim=8))
    return vocab, encode_pairs(pairs, vocab, context_len=10, response_len=8), generator


@pytest.mark.parametrize("says_real", [True, False])
def test_held_out_accuracy_by_kind_is_the_share_judged_right(dialogue_data, says_real):
    vocab, data, generator = dialogue_data
    accuracy = discriminator_accuracy(ConstantJudge(says_real), generator, data, vocab)
    negative = 0.0 if says_real else 1.0
    assert accuracy == {"real": 1.0 - negative, "generated": negative, "mismatched": negative, "reversed": negative}


@pytest.mark.parametrize("says_real", [True, False])
def test_the_dialogue_trainers_batch_accuracy_is_the_share_judged_right(dialogue_data, says_real):
    vocab, data, generator = dialogue_data
    trainer = DialogueGANTrainer(generator, ConstantJudge(says_real), data, vocab, DialogueGANConfig(batch_size=4))
    record = trainer.discriminator_step()
    negative = 0.0 if says_real else 1.0
    assert (record["acc_real"], record["acc_generated"], record["acc_mismatched"]) == (1.0 - negative, negative,
                                                                                     negative)
    assert record["accuracy"] == 0.5  # half of the judging is on real pairs, half on negatives


class KnowsTheData(nn.Module):
    """Scores a sequence real exactly when it is one of the real rows (or, inverted, exactly when it is not)."""

    def __init__(self, real: torch.Tensor, inverted: bool = False):
        super().__init__()
        self.real, self.sign = real, -1.0 if inverted else 1.0
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, x):
        known = (x[:, None, :] == self.real[None]).all(-1).any(-1).float()
        return self.sign * self.scale * (2 * known - 1)


@pytest.mark.parametrize("inverted, expected", [(False, 1.0), (True, 0.0)])
def test_the_text_gan_discriminator_step_records_the_share_judged_right(inverted, expected):
    real = torch.randint(12, (64, 6), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    generator = LSTMGenerator(LSTMGeneratorConfig(vocab_size=12, max_len=6, embed_dim=8, hidden_dim=8))
    trainer = GANTrainer(generator, KnowsTheData(real, inverted), real, TrainConfig(batch_size=16))
    assert trainer.discriminator_step()["accuracy"] == expected
