import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from heygen_lib.gan.generators import (
    LSTMGenerator,
    LSTMGeneratorConfig,
    TransformerGenerator,
    TransformerGeneratorConfig,
    VAEGenerator,
    VAEGeneratorConfig,
)
from heygen_lib.gan.rewards import rollout_rewards, rollout_rewards_reference

V, T = 6, 5


class TinyDiscriminator(nn.Module):
    """A stand-in with the discriminators' forward(): ids [B,T] or one-hots [B,T,V] -> logits [B]. Records the
    largest batch it was given, and has dropout so that tests see whether it ran in eval mode."""

    def __init__(self, vocab: int = V, length: int = T, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(vocab, 4)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(length * 4, 1)
        self.largest_batch = 0

    def forward(self, x):
        self.largest_batch = max(self.largest_batch, x.size(0))
        e = x @ self.embedding.weight if x.is_floating_point() else self.embedding(x)
        return self.out(self.dropout(e.flatten(1))).squeeze(-1) * 3


class FirstTokenDiscriminator(nn.Module):
    """Judges a sequence by its first token only: every completion of any prefix keeps that token, so the exact
    reward of sample b is sigmoid(score[first token of b]) at every position, whatever the rollouts sample."""

    def __init__(self, vocab: int = V):
        super().__init__()
        self.score = nn.Parameter(torch.linspace(-3, 3, vocab))

    def forward(self, x):
        return self.score[x[:, 0]]


class TableDiscriminator(nn.Module):
    """A fixed random logit for every possible sequence (tiny vocabularies only)."""

    def __init__(self, vocab: int, length: int, seed: int = 0):
        super().__init__()
        self.vocab = vocab
        self.table = nn.Parameter(torch.randn(vocab**length, generator=torch.Generator().manual_seed(seed)) * 2)

    def index(self, x):
        return (x * self.vocab ** torch.arange(x.size(1) - 1, -1, -1)).sum(1)

    def forward(self, x):
        return self.table[self.index(x)]


def make(kind: str, vocab: int = V, length: int = T):
    torch.manual_seed(0)
    if kind == "lstm":
        config = LSTMGeneratorConfig(vocab_size=vocab, max_len=length, embed_dim=8, hidden_dim=8, init="normal")
        return LSTMGenerator(config)
    if kind == "transformer":
        model = TransformerGenerator(TransformerGeneratorConfig(vocab_size=vocab, max_len=length, n_head=2, n_embd=8))
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    p.mul_(30.0)
        return model
    return VAEGenerator(VAEGeneratorConfig(vocab_size=vocab, max_len=length, embed_dim=8, hidden_dim=8, latent_dim=3))


def test_rewards_have_one_value_per_token_and_the_last_is_the_verdict_on_the_sample():
    gen, disc = make("lstm"), TinyDiscriminator().eval()
    samples = gen.sample(4)
    rewards = rollout_rewards(gen, disc, samples, n_rollouts=3)
    assert rewards.shape == (4, T) and not rewards.requires_grad
    assert ((rewards > 0) & (rewards < 1)).all()
    with torch.no_grad():
        torch.testing.assert_close(rewards[:, -1], torch.sigmoid(disc(samples)))


@pytest.mark.parametrize("reward_fn", [rollout_rewards, rollout_rewards_reference])
def test_a_samples_reward_depends_only_on_that_sample(reward_fn):
    gen, disc = make("lstm"), FirstTokenDiscriminator()
    samples = torch.tensor([[0, 1, 2, 3, 4], [5, 5, 5, 5, 5], [2, 0, 0, 1, 1], [4, 3, 2, 1, 0]])
    rewards = reward_fn(gen, disc, samples, 4)
    expected = torch.sigmoid(disc.score[samples[:, 0]]).detach()[:, None].expand(-1, T)
    torch.testing.assert_close(rewards, expected)
    permutation = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(reward_fn(gen, disc, samples[permutation], 4), rewards[permutation])


def test_the_popular_reshape_bug_fails_the_check_above():
    """The test above must catch the bug it is there for: scores laid out [rollout, prefix, batch] and read back
    as [batch, prefix, rollout] hand each sample other samples' rewards."""
    gen, disc = make("lstm"), FirstTokenDiscriminator()
    samples = torch.tensor([[0, 1, 2, 3, 4], [5, 5, 5, 5, 5], [2, 0, 0, 1, 1], [4, 3, 2, 1, 0]])
    B, R = samples.size(0), 4
    with torch.no_grad():
        completions = gen.rollout(samples, R)  # [R, T-1, B, T]
        probs = torch.sigmoid(disc(completions.reshape(-1, T))).view(R, T - 1, B)
    buggy = probs.reshape(B, T - 1, R).mean(-1)
    right = probs.mean(0).t()
    expected = torch.sigmoid(disc.score[samples[:, 0]]).detach()[:, None].expand(-1, T - 1)
    torch.testing.assert_close(right, expected)
    assert (buggy - expected).abs().max() > 0.1


@pytest.mark.parametrize("kind", ["lstm", "transformer", "vae"])
def test_fast_and_reference_rewards_agree_exactly_with_greedy_rollouts(kind):
    gen, disc = make(kind), TinyDiscriminator()
    samples = torch.randint(0, V, (5, T))
    fast = rollout_rewards(gen, disc, samples, n_rollouts=2, temperature=0.0)
    reference = rollout_rewards_reference(gen, disc, samples, n_rollouts=2, temperature=0.0)
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-6)
    assert fast[:, :-1].std() > 0.01  # the rewards differ from prefix to prefix: the comparison means something


@pytest.mark.parametrize("kind, temperature", [("lstm", 1.0), ("transformer", 1.0), ("lstm", 0.5)])
def test_fast_and_reference_rewards_both_estimate_the_exact_expected_reward(kind, temperature):
    vocab, length = 3, 4
    gen, disc = make(kind, vocab, length).eval(), TableDiscriminator(vocab, length)
    samples = torch.tensor([[0, 1, 2, 0], [2, 2, 1, 1], [1, 0, 0, 2]])
    # Exact expectation by enumerating every sequence: p(completion | prefix) * sigmoid(D(completion)).
    every = torch.tensor(list(itertools.product(range(vocab), repeat=length)))
    with torch.no_grad():
        logp = F.log_softmax(gen(every).double() / temperature, -1).gather(-1, every.unsqueeze(-1)).squeeze(-1)
        score = torch.sigmoid(disc(every).double())
    exact = torch.zeros(3, length, dtype=torch.float64)
    for b in range(3):
        for t in range(1, length):
            match = (every[:, :t] == samples[b, :t]).all(1)
            weight = logp[match, t:].sum(1).exp()  # p(rest | prefix)
            exact[b, t - 1] = (weight * score[match]).sum() / weight.sum()
        exact[b, -1] = score[disc.index(samples[b : b + 1])]
    fast = rollout_rewards(gen, disc, samples, n_rollouts=8000, temperature=temperature,
                           rng=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    reference = rollout_rewards_reference(gen, disc, samples, n_rollouts=400, temperature=temperature)
    # A reward is a mean of values in (0, 1): standard error <= 0.5 / sqrt(R) (0.0056 and 0.025 here).
    assert (fast.double() - exact).abs().max() < 0.02
    assert (reference.double() - exact).abs().max() < 0.08
    assert (exact[:, :-1].max() - exact[:, :-1].min()) > 0.1  # rewards vary, so the check is not vacuous


def test_splitting_into_batches_changes_nothing_but_the_batch_size():
    gen, disc = make("lstm"), TinyDiscriminator()
    samples = torch.randint(0, V, (3, T))
    whole = rollout_rewards(gen, disc, samples, n_rollouts=5, temperature=0.0)
    assert disc.largest_batch == 5 * (T - 1) * 3
    disc.largest_batch = 0
    split = rollout_rewards(gen, disc, samples, n_rollouts=5, batch_size=7, temperature=0.0)
    assert disc.largest_batch == 7
    torch.testing.assert_close(split, whole)


def test_rewards_are_computed_in_eval_mode_and_modes_are_restored():
    gen, disc = make("lstm"), TinyDiscriminator()
    gen.train()
    disc.train()
    samples = torch.randint(0, V, (4, T))
    a = rollout_rewards(gen, disc, samples, n_rollouts=2, temperature=0.0)
    b = rollout_rewards(gen, disc, samples, n_rollouts=2, temperature=0.0)
    torch.testing.assert_close(a, b)  # dropout (p=0.5) was off: the same greedy rollouts score the same
    assert gen.training and disc.training


def test_rollouts_are_made_in_groups_that_fit_the_batch_size_and_in_eval_mode():
    gen, disc = make("lstm"), TinyDiscriminator()
    gen.train()
    samples = torch.randint(0, V, (3, T))
    made = []
    rollout = gen.rollout
    gen.rollout = lambda *args, **kwargs: made.append((args[1], gen.training)) or rollout(*args, **kwargs)
    whole = rollout_rewards(gen, disc, samples, n_rollouts=5, temperature=0.0)
    assert made == [(5, False)]
    made.clear()
    two_rollouts = 2 * (T - 1) * 3
    grouped = rollout_rewards(gen, disc, samples, n_rollouts=5, batch_size=two_rollouts + 1, temperature=0.0)
    assert made == [(2, False), (2, False), (1, False)]  # never more rollouts than asked for
    torch.testing.assert_close(grouped, whole)
    made.clear()
    rollout_rewards(gen, disc, samples, n_rollouts=2, batch_size=1, temperature=0.0)
    assert made == [(1, False), (1, False)]  # at least one rollout per group, however small the batch


def test_a_seeded_rng_makes_the_rollouts_reproducible_whatever_the_global_seed():
    gen, disc = make("lstm"), TinyDiscriminator().eval()
    samples = torch.randint(0, V, (3, T))
    torch.manual_seed(1)
    first = rollout_rewards(gen, disc, samples, n_rollouts=3, rng=torch.Generator().manual_seed(7))
    torch.manual_seed(2)
    again = rollout_rewards(gen, disc, samples, n_rollouts=3, rng=torch.Generator().manual_seed(7))
    torch.testing.assert_close(first, again)


def test_the_reference_rolls_out_in_eval_mode():
    gen, disc = make("lstm"), TinyDiscriminator()
    gen.train()
    modes = []
    step = gen.step
    gen.step = lambda *args: modes.append(gen.training) or step(*args)
    rollout_rewards_reference(gen, disc, torch.randint(0, V, (2, T)), n_rollouts=1, temperature=0.0)
    assert modes and not any(modes) and gen.training


@pytest.mark.parametrize("n_rollouts, length", [(0, T), (1, 1)])
def test_no_rollouts_or_sequences_too_short_to_complete_are_refused(n_rollouts, length):
    gen, disc = make("lstm"), TinyDiscriminator()
    with pytest.raises(ValueError, match=rf"need n_rollouts >= 1 and sequences of length >= 2, got {n_rollouts} and "
                                         rf"{length}$"):
        rollout_rewards(gen, disc, torch.zeros(2, length, dtype=torch.long), n_rollouts)


def test_one_rollout_of_the_shortest_sequences_is_enough():
    gen, disc = make("lstm", length=2), TinyDiscriminator(length=2).eval()
    rewards = rollout_rewards(gen, disc, torch.randint(0, V, (3, 2)), n_rollouts=1)
    assert rewards.shape == (3, 2) and ((rewards > 0) & (rewards < 1)).all()
