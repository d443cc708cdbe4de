import io
import itertools
import math
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F

from heygen_lib.gan import generators
from heygen_lib.gan.generators import (
    LSTMGenerator,
    LSTMGeneratorConfig,
    TransformerGenerator,
    TransformerGeneratorConfig,
    VAEGenerator,
    VAEGeneratorConfig,
    kl_annealing,
    sample_from_logits,
)

V, T = 7, 5


def make(kind: str, vocab: int = V, length: int = T, seed: int = 0):
    torch.manual_seed(seed)
    if kind == "lstm":
        config = LSTMGeneratorConfig(vocab_size=vocab, max_len=length, embed_dim=8, hidden_dim=8, init="normal")
        return LSTMGenerator(config)
    if kind == "transformer":
        model = TransformerGenerator(
            TransformerGeneratorConfig(vocab_size=vocab, max_len=length, n_layer=2, n_head=2, n_embd=8)
        )
        with torch.no_grad():  # GPT's init is nearly uniform; sharpen it so that tests can tell tokens apart
            for p in model.parameters():
                if p.dim() > 1:
                    p.mul_(30.0)
        return model
    return VAEGenerator(VAEGeneratorConfig(vocab_size=vocab, max_len=length, embed_dim=8, hidden_dim=8, latent_dim=3))


KINDS = ["lstm", "transformer", "vae"]


def all_sequences(vocab: int, length: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(vocab), repeat=length)))


def exact_probabilities(model, vocab: int, length: int) -> torch.Tensor:
    """p(x) of every sequence in `all_sequences` order, from teacher-forced logits."""
    x = all_sequences(vocab, length)
    with torch.no_grad():
        logp = F.log_softmax(model(x).double(), -1).gather(-1, x.unsqueeze(-1)).squeeze(-1).sum(1)
    return logp.exp()


def frequencies(samples: torch.Tensor, vocab: int) -> torch.Tensor:
    index = (samples * vocab ** torch.arange(samples.size(1) - 1, -1, -1)).sum(1)
    return torch.bincount(index, minlength=vocab ** samples.size(1)).double() / samples.size(0)


@pytest.mark.parametrize("kind", KINDS)
def test_every_generator_has_the_shared_interface_shapes(kind):
    model = make(kind).eval()
    tokens = model.sample(4)
    assert tokens.shape == (4, T) and tokens.dtype == torch.long
    assert 0 <= int(tokens.min()) and int(tokens.max()) < V
    assert model(tokens).shape == (4, T, V)
    assert model.nll(tokens).shape == (4,)
    assert model.rollout(tokens, 3).shape == (3, T - 1, 4, T)
    ids, soft = model.gumbel_sample(4, tau=0.5)
    assert ids.shape == (4, T) and soft.shape == (4, T, V)
    torch.testing.assert_close(soft.sum(-1), torch.ones(4, T))


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_step_by_step_decoding_gives_the_teacher_forced_logits(kind):
    model = make(kind).eval()
    tokens = torch.randint(0, V, (3, T))
    with torch.no_grad():
        expected = model(tokens)
        state = model.new_state(3)
        inputs = model.shift_right(tokens)
        got = []
        for t in range(T):
            logits, state = model.step(inputs[:, t], state)
            got.append(logits)
    torch.testing.assert_close(torch.stack(got, 1), expected, rtol=1e-4, atol=1e-4)


def test_vae_steps_from_its_latent_code_match_forward_with_that_code():
    model = make("vae").eval()
    tokens = torch.randint(0, V, (3, T))
    z = torch.randn(3, 3)
    with torch.no_grad():
        expected = model(tokens, z=z)
        state, inputs, got = model.state_from_z(z), model.shift_right(tokens), []
        for t in range(T):
            logits, state = model.step(inputs[:, t], state)
            got.append(logits)
    torch.testing.assert_close(torch.stack(got, 1), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_logits_at_a_position_never_see_that_token_or_later_ones(kind):
    model = make(kind).eval()
    tokens = torch.randint(0, V, (2, T))
    changed = tokens.clone()
    changed[:, 2:] = (changed[:, 2:] + 1) % V
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :3], b[:, :3])  # logits at t predict token t from tokens before it
    assert (a[:, 3:] - b[:, 3:]).abs().max() > 1e-3


def test_nll_is_the_mean_per_token_cross_entropy():
    model = make("lstm").eval()
    tokens = torch.randint(0, V, (3, T))
    with torch.no_grad():
        logp = F.log_softmax(model(tokens), -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        torch.testing.assert_close(model.nll(tokens), -logp.mean(1))


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_flattened_nll_equals_the_transposed_cross_entropy_it_replaced(kind):
    model = make(kind, vocab=50, length=12).eval()
    tokens = torch.randint(0, 50, (6, 12))
    with torch.no_grad():
        old = F.cross_entropy(model(tokens).float().transpose(1, 2), tokens, reduction="none").mean(dim=1)
        torch.testing.assert_close(model.nll(tokens), old, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_samples_follow_the_model_distribution(kind):
    vocab, length = 3, 3
    model = make(kind, vocab, length).eval()
    p = exact_probabilities(model, vocab, length)
    samples = model.sample(20_000, generator=torch.Generator().manual_seed(1))
    # 20,000 draws: the standard error of each frequency is at most 0.0036.
    assert (frequencies(samples, vocab) - p).abs().max() < 0.015


def test_sampling_is_reproducible_with_a_seeded_generator():
    model = make("lstm").eval()
    a = model.sample(50, generator=torch.Generator().manual_seed(3))
    b = model.sample(50, generator=torch.Generator().manual_seed(3))
    c = model.sample(50, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sample_from_logits_matches_softmax_and_temperature():
    logits = torch.tensor([[0.0, 1.0, 2.0, -float("inf")]]).expand(2, -1)
    draws = sample_from_logits(logits, num_samples=40_000, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (2, 40_000)
    freq = torch.bincount(draws[0], minlength=4).double() / 40_000
    torch.testing.assert_close(freq[:3], torch.softmax(logits[0, :3].double(), 0), atol=0.01, rtol=0)
    assert freq[3] == 0  # a zero-probability token is never drawn
    hot = sample_from_logits(logits, temperature=0.5, num_samples=40_000, generator=torch.Generator().manual_seed(0))
    hot_freq = torch.bincount(hot[0], minlength=4).double() / 40_000
    torch.testing.assert_close(hot_freq[:3], torch.softmax(logits[0, :3].double() / 0.5, 0), atol=0.01, rtol=0)
    assert torch.equal(sample_from_logits(logits, temperature=0, num_samples=3), torch.full((2, 3), 2))


def test_sampling_leaves_the_logits_as_they_were():
    logits = torch.randn(4, 6)
    keep = logits.clone()
    sample_from_logits(logits, temperature=0.7)
    sample_from_logits(logits)
    assert torch.equal(logits, keep)


@pytest.mark.parametrize("V", [5000, 97, 6])  # blocks of 50; one block (a prime); blocks of 2
def test_the_two_level_draw_follows_the_softmax_and_never_draws_a_zero_probability_token(V):
    logits = torch.randn(V, generator=torch.Generator().manual_seed(V)) * 2
    logits[::3] = -float("inf")  # whole runs of zero mass, at block ends and starts too
    draws = sample_from_logits(logits.expand(2, -1), num_samples=200_000, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws.flatten(), minlength=V).double() / draws.numel()
    probs = torch.softmax(logits.double(), 0)
    assert freq[::3].sum() == 0
    assert (freq - probs).abs().max() < 5 * (probs.max() / draws.numel()) ** 0.5 + 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_rollouts_keep_each_prefix_and_only_complete_it(kind):
    model = make(kind).eval()
    tokens = torch.randint(0, V, (4, T))
    out = model.rollout(tokens, 6)
    for t in range(1, T):
        assert torch.equal(out[:, t - 1, :, :t], tokens[:, :t].expand(6, -1, -1))
    assert not torch.equal(out[:, 0], tokens.expand(6, -1, -1))  # the rest is sampled, not copied


@pytest.mark.parametrize("kind", KINDS)
def test_rolling_out_in_chunks_of_rows_changes_nothing_but_speed(kind, monkeypatch):
    model = make(kind).eval()
    tokens = torch.randint(0, V, (4, T))
    whole = model.rollout(tokens, 6, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(generators, "ROLLOUT_CHUNK_ROWS", 5)  # chunks that cut through rollouts and prefixes
    assert torch.equal(model.rollout(tokens, 6, generator=torch.Generator().manual_seed(0)), whole)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_the_mle_loss_is_the_mean_nll_with_the_same_gradients(kind):
    model = make(kind, vocab=300, length=T)
    tokens = torch.randint(0, 300, (333, T))  # rows in several chunks, the last one short
    expected = model.nll(tokens).mean()
    expected.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    loss = model.mle_loss(tokens)
    loss.backward()
    torch.testing.assert_close(loss, expected)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], msg=name)


@pytest.mark.parametrize("kind", KINDS)
def test_greedy_rollout_equals_greedy_decoding_of_each_prefix(kind):
    model = make(kind).eval()
    tokens = torch.randint(0, V, (3, T))
    out = model.rollout(tokens, 2, temperature=0.0)
    with torch.no_grad():
        for t in range(1, T):
            logits, state = model.step(torch.zeros(3, dtype=torch.long), model.init_state(tokens))
            seq = tokens.clone()
            for i in range(T):
                if i >= t:
                    seq[:, i] = logits.argmax(-1)
                if i < T - 1:
                    logits, state = model.step(seq[:, i], state)
            assert torch.equal(out[0, t - 1], seq) and torch.equal(out[1, t - 1], seq)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_rollout_completions_follow_the_model_conditional_distribution(kind):
    vocab, length = 3, 3
    model = make(kind, vocab, length).eval()
    p = exact_probabilities(model, vocab, length).view(vocab, vocab * vocab)  # [first token, rest]
    tokens = torch.tensor([[2, 0, 0], [0, 1, 1]])
    out = model.rollout(tokens, 20_000, generator=torch.Generator().manual_seed(5))  # [R, T-1, B, T]
    for b in range(2):
        first = int(tokens[b, 0])
        expected = p[first] / p[first].sum()  # p(x1, x2 | x0)
        completions = out[:, 0, b]  # prefixes of length 1
        got = frequencies(completions[:, 1:], vocab)
        assert (got - expected).abs().max() < 0.015
        # Prefix of length 2: p(x2 | x0, x1).
        cond = p[first].view(vocab, vocab)[int(tokens[b, 1])]
        got2 = torch.bincount(out[:, 1, b, 2], minlength=vocab).double() / out.size(0)
        assert (got2 - cond / cond.sum()).abs().max() < 0.015


def test_gumbel_sample_tokens_are_the_argmax_and_gradients_reach_the_generator():
    model = make("lstm")
    ids, soft = model.gumbel_sample(8, tau=0.7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(soft.argmax(-1), ids)
    weights = torch.randn(V)
    (soft * weights).sum().backward()
    for p in (model.head.weight, model.lstm.weight_hh_l0, model.embedding.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_straight_through_gumbel_is_exactly_one_hot_forward_with_soft_gradients():
    model = make("transformer")
    ids, hard = model.gumbel_sample(4, tau=2.0, hard=True)
    torch.testing.assert_close(hard.detach(), F.one_hot(ids, V).float())
    (hard * torch.randn(V)).sum().backward()
    assert model.head.weight.grad.abs().sum() > 0


def test_gumbel_tokens_are_exact_model_samples_whatever_the_temperature():
    vocab, length = 3, 2
    model = make("lstm", vocab, length).eval()
    p = exact_probabilities(model, vocab, length)
    with torch.no_grad():
        ids, _ = model.gumbel_sample(20_000, tau=5.0, generator=torch.Generator().manual_seed(2))
    assert (frequencies(ids, vocab) - p).abs().max() < 0.015


def test_lstm_initialisations_have_the_documented_scale_and_are_seeded():
    oracle_like = LSTMGenerator(LSTMGeneratorConfig(vocab_size=300, init="normal"))
    small = LSTMGenerator(LSTMGeneratorConfig(vocab_size=300, init="small"))
    assert abs(oracle_like.embedding.weight.std().item() - 1.0) < 0.05
    assert abs(oracle_like.lstm.bias_ih_l0.std().item() - 1.0) < 0.3
    assert abs(small.head.weight.std().item() - 0.1) < 0.01
    assert small.head.bias.abs().sum() == 0 and oracle_like.lstm.bias_hh_l0.abs().sum() == 0
    a, b = (LSTMGenerator(LSTMGeneratorConfig(vocab_size=50, init="normal")) for _ in range(2))
    a.reset_parameters(torch.Generator().manual_seed(9))
    b.reset_parameters(torch.Generator().manual_seed(9))
    for (_, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y)


@pytest.mark.parametrize("kind", KINDS)
def test_config_and_state_dict_round_trip_through_weights_only_load(kind):
    model = make(kind).eval()
    buffer = io.BytesIO()
    torch.save({"config": asdict(model.config), "state_dict": model.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    clone = type(model)(type(model.config)(**saved["config"]))
    clone.load_state_dict(saved["state_dict"])
    clone.eval()
    tokens = torch.randint(0, V, (2, T))
    z = torch.randn(2, 3)
    with torch.no_grad():
        if kind == "vae":
            torch.testing.assert_close(clone(tokens, z=z), model(tokens, z=z))
        else:
            torch.testing.assert_close(clone(tokens), model(tokens))


def test_vae_elbo_terms_are_per_token_and_kl_is_weighted():
    model = make("vae")
    tokens = torch.randint(0, V, (6, T))
    torch.manual_seed(0)
    recon, kl = model.elbo_loss(tokens, kl_weight=1.0)
    torch.manual_seed(0)
    recon2, kl2 = model.elbo_loss(tokens, kl_weight=0.25)
    torch.testing.assert_close(recon, recon2)
    torch.testing.assert_close(kl2, 0.25 * kl)
    assert kl > 0
    # Per token: an untrained decoder is close to uniform, so the reconstruction is about log V per token.
    assert abs(recon.item() - math.log(V)) < 1.0
    torch.manual_seed(0)
    nll = model.nll(tokens)
    torch.testing.assert_close(nll.mean(), recon + kl)
    (recon + kl).backward()
    assert model.to_posterior.weight.grad.abs().sum() > 0


def test_vae_rollouts_reuse_the_latent_code_of_the_sampled_batch():
    model = make("vae").eval()
    tokens = model.sample(5, generator=torch.Generator().manual_seed(0))
    remembered = model._prior_z
    assert torch.equal(model.z_for(tokens), remembered)
    other = torch.randint(0, V, (5, T))
    with torch.no_grad():
        torch.testing.assert_close(model.z_for(other), model.encode(other)[0])
        # A different batch of tokens with the same shape falls back to the posterior mean too.
        assert not torch.equal(model.z_for(tokens.flip(0)), remembered.flip(0))


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [
        ("linear", 0, 0.0),
        ("linear", 25, 0.5),
        ("linear", 50, 1.0),
        ("linear", 90, 1.0),
        ("cyclical", 0, 0.0),
        ("cyclical", 10, 0.8),  # cycles of 25 steps, ramp over the first 12.5
        ("cyclical", 20, 1.0),
        ("cyclical", 25, 0.0),  # a new cycle restarts at zero
        ("cyclical", 30, 0.4),
        ("constant", 3, 1.0),
    ],
)
def test_kl_annealing_schedules(schedule, step, expected):
    assert kl_annealing(step, 100, schedule=schedule, cycles=4, ramp=0.5) == pytest.approx(expected)
