import copy

import pytest
import torch

from heygen_lib.dialogue_gan.data import EOS_ID, PAD_ID
from heygen_lib.dialogue_gan.lstm.evaluation import nll
from heygen_lib.dialogue_gan.negatives import NegativeMix
from heygen_lib.dialogue_gan.lstm.training import (
    DialogueGANConfig,
    DialogueGANTrainer,
    moving_average,
    pretrain_discriminator,
    reinforce_loss,
    train_mle,
)

from toy_dialogues import encoded, tiny_models, toy_pairs

ITEMS = ["kettle", "toaster", "blender", "fridge", "lamp", "radio", "kettle lid", "mixer"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    return encoded(toy_pairs(ITEMS, question="where is my {} order?", context_turns=3), context_len=12)


def make_trainer(data, attention=True, **config) -> DialogueGANTrainer:
    vocab, encoded_pairs = data
    generator, discriminator = tiny_models(vocab, attention)
    return DialogueGANTrainer(generator, discriminator, encoded_pairs, vocab, DialogueGANConfig(batch_size=8, **config),
                              dev=encoded_pairs)


def test_reinforce_gradient_raises_the_log_prob_of_samples_above_the_baseline_and_lowers_the_others():
    log_probs = torch.tensor([[-1.0, -2.0, 0.0], [-1.5, -0.5, 0.0]], requires_grad=True)  # 0 after <eos>
    rewards = torch.tensor([0.9, 0.2])
    loss = reinforce_loss(log_probs, rewards, baseline=0.5)
    assert loss.item() == pytest.approx(-((0.9 - 0.5) * -3.0 + (0.2 - 0.5) * -2.0) / 2)  # advantage = reward - b
    loss.backward()
    step = -log_probs.grad  # gradient descent moves the log-probs this way
    assert (step[0, :2] > 0).all() and (step[1, :2] < 0).all()
    assert step[0, 0].item() == pytest.approx(0.4 / 2) and step[1, 0].item() == pytest.approx(-0.3 / 2)
    rewards.requires_grad_(True)
    reinforce_loss(log_probs, rewards, baseline=0.5).backward()
    assert rewards.grad is None  # the reward is a constant: no gradient reaches the discriminator


def test_the_baseline_is_a_moving_average_started_by_the_first_reward():
    b = moving_average(None, 0.4, decay=0.9)
    assert b == 0.4
    assert moving_average(b, 0.9, decay=0.9) == pytest.approx(0.45)


@pytest.mark.parametrize("attention", [True, False])
def test_sampled_log_probs_agree_with_teacher_forcing_and_stop_at_eos(data, attention):
    vocab, encoded = data
    trainer = make_trainer(data, attention=attention)
    for _ in range(3):
        trainer.mle_epoch()
    generator = trainer.generator.eval()
    contexts, lengths, _ = encoded.batch(torch.arange(len(encoded)))
    ids, log_probs = generator.sample(contexts, lengths, generator=torch.Generator().manual_seed(0))
    finished = (ids == EOS_ID).any(dim=1)
    for row in range(len(ids)):
        eos = (ids[row] == EOS_ID).nonzero()
        if len(eos):
            end = eos[0, 0].item() + 1
            assert (ids[row, end:] == PAD_ID).all() and (log_probs[row, end:] == 0).all()
    # Teacher-forcing the sampled responses gives the same per-token log-probabilities (finished rows).
    forced = generator.nll(contexts[finished], lengths[finished], ids[finished])
    tokens = (ids[finished] != PAD_ID).sum(dim=1)
    assert torch.allclose(-log_probs[finished].sum(dim=1) / tokens, forced, atol=1e-4)
    greedy = [generator.sample(contexts, lengths, temperature=0)[0] for _ in range(2)]
    assert torch.equal(*greedy)


def test_mle_lowers_nll_and_early_stopping_keeps_the_best_dev_epoch(data):
    _, encoded = data
    trainer = make_trainer(data, mle_lr=1e-2)
    before = nll(trainer.generator, encoded)
    records = train_mle(trainer, epochs=6, patience=2)
    best = min(r["dev_nll"] for r in records)
    assert best < before - 1.0
    assert nll(trainer.generator, encoded) == pytest.approx(best, abs=1e-5)


def test_tokens_after_eos_do_not_change_the_discriminators_verdict(data):
    _, encoded = data
    discriminator = make_trainer(data).discriminator.eval()
    contexts, lengths, responses = encoded.batch(torch.arange(4))
    noisy = responses.clone()
    noisy[noisy == PAD_ID] = 7
    assert torch.allclose(discriminator(contexts, lengths, responses), discriminator(contexts, lengths, noisy))


def test_discriminator_step_records_accuracy_on_each_kind_and_pretraining_learns(data):
    trainer = make_trainer(data, d_lr=1e-2)
    records = pretrain_discriminator(trainer, 60)
    assert {"acc_real", "acc_generated", "acc_mismatched", "acc_reversed", "loss"} <= set(records[0])
    assert sum(r["loss"] for r in records[-10:]) < sum(r["loss"] for r in records[:10]) - 1.0
    only_generated = make_trainer(data, negatives=NegativeMix(1, 0, 0)).discriminator_step()
    assert "acc_generated" in only_generated and "acc_mismatched" not in only_generated


@torch.no_grad()
def mean_reward(trainer: DialogueGANTrainer, repeats: int = 8) -> float:
    contexts, lengths, _ = trainer.train.batch(torch.arange(len(trainer.train)).repeat(repeats))
    ids, _ = trainer.generator.eval().sample(contexts, lengths, generator=torch.Generator().manual_seed(5))
    return trainer.discriminator.probability(contexts, lengths, ids).mean().item()


def test_a_short_adversarial_run_raises_the_discriminators_reward_of_samples(data):
    trainer = make_trainer(data, g_lr=1e-2, d_lr=1e-2, teacher_forcing=0.0, d_steps=0)
    pretrain_discriminator(trainer, 40)  # then frozen (d_steps=0): the generator chases a fixed judge
    before = mean_reward(trainer)
    records = [trainer.adversarial_step() for _ in range(30)]
    assert mean_reward(trainer) > before + 0.1, (before, mean_reward(trainer))
    assert records[1]["baseline"] == pytest.approx(records[0]["reward"])  # the first reward starts the average
    assert "d_loss" not in records[0]


def test_reward_weight_zero_leaves_only_teacher_forcing(data):
    control = make_trainer(data, reward_weight=0.0, d_steps=0)
    tf_only = copy.deepcopy(control.generator)
    torch.manual_seed(1)  # the same dropout masks in both teacher-forcing passes
    control.adversarial_step()
    # The same teacher-forcing update by hand, from the same weights, with the same optimiser settings.
    optimizer = torch.optim.Adam(tf_only.parameters(), lr=control.config.g_lr)
    contexts, lengths, responses = control.train.batch(torch.randint(len(control.train), (8,),
                                                                     generator=torch.Generator().manual_seed(0)))
    tf_only.train()
    torch.manual_seed(1)
    tf_only.nll(contexts, lengths, responses).mean().backward()
    torch.nn.utils.clip_grad_norm_(tf_only.parameters(), control.config.clip)
    optimizer.step()
    for a, b in zip(control.generator.parameters(), tf_only.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_checkpoint_round_trip_resumes_with_the_same_numbers(data, tmp_path):
    trainer = make_trainer(data)
    trainer.mle_epoch()
    for _ in range(2):
        trainer.adversarial_step()
    trainer.save(tmp_path / "gan.pt")
    expected = [trainer.adversarial_step() for _ in range(2)]
    resumed = make_trainer(data).load(tmp_path / "gan.pt")
    assert resumed.steps == {"mle": 1, "discriminator": 2, "adversarial": 2} and len(resumed.history) == 5
    assert [resumed.adversarial_step() for _ in range(2)] == expected
    with pytest.raises(ValueError, match="another DialogueGANConfig"):
        make_trainer(data, g_lr=0.5).load(tmp_path / "gan.pt")
