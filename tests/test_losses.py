import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
from heygen_lib.gan.losses import (
    LOSSES,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
    linear_cross_entropy,
    policy_gradient_loss,
    rsgan_d_loss,
    rsgan_g_loss,
    standard_d_loss,
    standard_g_loss,
    wasserstein_d_loss,
    wasserstein_g_loss,
)

from known_critics import LinearCritic, OneDtypeCritic

LN2 = math.log(2.0)


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


def close(actual, expected):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=torch.float32), rtol=1e-6, atol=1e-7)


def softplus(z):
    return math.log1p(math.exp(z))


# --- standard ----------------------------------------------------------------------------------------------------


def test_standard_d_loss_of_an_undecided_discriminator_is_two_ln2():
    close(standard_d_loss(t(0, 0, 0), t(0, 0)), 2 * LN2)


def test_standard_d_loss_at_known_logits():
    # -log sigmoid(2) = softplus(-2); -log(1 - sigmoid(-1)) = softplus(-1); second batch averages two terms.
    close(standard_d_loss(t(2.0), t(-1.0)), softplus(-2) + softplus(-1))
    close(standard_d_loss(t(2.0, 0.0), t(-1.0, 3.0)), (softplus(-2) + LN2) / 2 + (softplus(-1) + softplus(3)) / 2)


def test_standard_g_loss_is_non_saturating():
    close(standard_g_loss(t(5.0), t(0.0)), LN2)
    close(standard_g_loss(t(5.0), t(0.0, -3.0)), (LN2 + softplus(3)) / 2)
    # Confidently rejected fakes (logit -10) still get a gradient of almost -1 per sample (minimax would give ~0).
    fake = t(-10.0).requires_grad_(True)
    standard_g_loss(t(0.0), fake).backward()
    assert fake.grad.item() == pytest.approx(-1.0, abs=1e-4)


def test_losses_are_computed_in_float32_from_half_logits():
    loss = standard_d_loss(torch.zeros(4, dtype=torch.float16), torch.zeros(4, dtype=torch.bfloat16))
    assert loss.dtype == torch.float32
    close(loss, 2 * LN2)


# --- wasserstein ---------------------------------------------------------------------------------------------------


def test_wasserstein_losses_at_known_logits():
    close(wasserstein_d_loss(t(1.0, 3.0), t(-2.0, 0.0, 5.0)), 1.0 - 2.0)
    close(wasserstein_g_loss(t(1.0, 3.0), t(-2.0, 0.0, 5.0)), -1.0)


def test_gradient_penalty_of_a_linear_critic_is_weight_times_norm_minus_one_squared():
    w = torch.full((3, 4), 0.5)  # ||w|| = sqrt(12 * 0.25) = sqrt(3)
    critic = LinearCritic(w)
    real = torch.randint(0, 4, (6, 3))  # ids become one-hots
    fake = torch.softmax(torch.randn(6, 3, 4), dim=-1)  # soft one-hots
    penalty = gradient_penalty(critic, real, fake, weight=10.0)
    close(penalty, 10.0 * (math.sqrt(3.0) - 1.0) ** 2)
    # It trains the critic: d/dw [lambda (||w|| - 1)^2] = 2 lambda (||w|| - 1) w / ||w||.
    penalty.backward()
    expected = 2 * 10.0 * (math.sqrt(3.0) - 1.0) * w / math.sqrt(3.0)
    torch.testing.assert_close(critic.w.grad, expected)


def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic():
    w = torch.zeros(2, 5)
    w[0, 1], w[1, 3] = 0.6, 0.8
    fake = torch.softmax(torch.randn(4, 2, 5), dim=-1)
    assert gradient_penalty(LinearCritic(w), torch.randint(0, 5, (4, 2)), fake).item() == pytest.approx(0, abs=1e-10)


class HalfSquaredNormCritic(nn.Module):
    """D(x) = ||x||^2 / 2, whose gradient at x is x itself."""

    def forward(self, x):
        return 0.5 * (x**2).flatten(1).sum(dim=1)


def test_gradient_penalty_reads_ids_as_one_hots():
    # real ids and fake one-hots of the same ids: every interpolate is that one-hot, whose norm is sqrt(T).
    tokens = torch.randint(0, 7, (3, 9))
    penalty = gradient_penalty(HalfSquaredNormCritic(), tokens, F.one_hot(tokens, 7).float(), weight=2.0)
    close(penalty, 2.0 * (3.0 - 1.0) ** 2)


def test_gradient_penalty_interpolates_with_one_weight_per_sample():
    # real one-hots at token 0, fake at token 1, T = 1: x_hat = (a, 1 - a), so D's gradient norm is sqrt(a^2 + (1-a)^2).
    real, fake = torch.zeros(5, 1, dtype=torch.long), torch.ones(5, 1, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    fake = F.one_hot(fake, 2).float()
    penalty = gradient_penalty(HalfSquaredNormCritic(), real, fake, weight=1.0, generator=generator)
    a = torch.rand(5, 1, 1, generator=torch.Generator().manual_seed(0)).flatten()
    close(penalty, (((a**2 + (1 - a) ** 2).sqrt() - 1) ** 2).mean().item())


def test_gradient_penalty_through_a_cnn_discriminator_trains_it_and_is_reproducible():
    torch.manual_seed(0)
    d = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=11, max_len=6, embed_dim=8, filter_counts=(4, 4, 4, 4)))
    real, fake = torch.randint(0, 11, (4, 6)), torch.randint(0, 11, (4, 6))  # both ids: V from the config
    penalty = gradient_penalty(d, real, fake)  # training mode, dropout on
    assert torch.isfinite(penalty) and penalty > 0
    d.eval()  # dropout off so both calls see the same network
    first = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(1))
    again = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, again)
    first.backward()
    assert d.embedding.weight.grad.abs().sum() > 0 and d.convs[0].weight.grad.abs().sum() > 0


def test_gradient_penalty_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(HalfSquaredNormCritic(), torch.zeros(2, 3, dtype=torch.long), torch.rand(2, 4, 5))


# --- relativistic and hinge ------------------------------------------------------------------------------------------


def test_rsgan_losses_at_known_logits():
    close(rsgan_d_loss(t(1.0), t(0.0)), softplus(-1))
    close(rsgan_g_loss(t(1.0), t(0.0)), softplus(1))
    close(rsgan_d_loss(t(0.0, 0.0), t(0.0, 0.0)), LN2)
    # pairs are by position: (2 vs -1) and (0 vs 1)
    close(rsgan_d_loss(t(2.0, 0.0), t(-1.0, 1.0)), (softplus(-3) + softplus(1)) / 2)
    close(rsgan_g_loss(t(2.0, 0.0), t(-1.0, 1.0)), (softplus(3) + softplus(-1)) / 2)


def test_rsgan_depends_only_on_the_difference_of_logits():
    shift = 4.0
    close(rsgan_d_loss(t(1.5, -2.0) + shift, t(0.5, 3.0) + shift), rsgan_d_loss(t(1.5, -2.0), t(0.5, 3.0)).item())


def test_rsgan_rejects_unpaired_batches():
    with pytest.raises(ValueError, match="pair real and fake"):
        rsgan_d_loss(t(1.0, 2.0), t(0.0))


def test_hinge_losses_at_known_logits():
    close(hinge_d_loss(t(0.5), t(-2.0)), 0.5)  # real inside the margin costs 0.5; fake beyond -1 costs nothing
    close(hinge_d_loss(t(3.0, -1.0), t(0.0, -0.5)), (0.0 + 2.0) / 2 + (1.0 + 0.5) / 2)
    close(hinge_g_loss(t(3.0), t(0.0, -0.5)), 0.25)


# --- dispatch ------------------------------------------------------------------------------------------------------


def test_losses_are_dispatched_by_name():
    assert LOSSES == {
        "standard": (standard_d_loss, standard_g_loss),
        "wgan-gp": (wasserstein_d_loss, wasserstein_g_loss),
        "rsgan": (rsgan_d_loss, rsgan_g_loss),
        "hinge": (hinge_d_loss, hinge_g_loss),
    }


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_rewards_the_right_direction(name):
    d_loss, g_loss = LOSSES[name]
    real = t(0.3, -0.2).requires_grad_(True)
    fake = t(-0.1, 0.4).requires_grad_(True)
    # The discriminator gains by raising real logits and lowering fake ones ...
    real_grad, fake_grad = torch.autograd.grad(d_loss(real, fake), (real, fake))
    assert (real_grad < 0).all() and (fake_grad > 0).all()
    # ... and the generator by raising its fakes' logits.
    (fake_grad,) = torch.autograd.grad(g_loss(real, fake), fake)
    assert (fake_grad < 0).all()


# --- policy gradient -----------------------------------------------------------------------------------------------


def test_policy_gradient_loss_value_and_gradient():
    log_probs = torch.log(t(0.5, 0.25, 0.1, 0.8)).reshape(2, 2).requires_grad_(True)
    rewards = t(1.0, 0.0, 0.5, 2.0).reshape(2, 2)
    loss = policy_gradient_loss(log_probs, rewards)
    close(loss, -(1.0 * math.log(0.5) + 0.5 * math.log(0.1) + 2.0 * math.log(0.8)) / 4)
    loss.backward()
    torch.testing.assert_close(log_probs.grad, -rewards / 4)


def test_raising_a_rewarded_tokens_log_prob_lowers_the_loss():
    log_probs = torch.full((1, 3), -2.0)
    rewards = t(0.0, 0.9, 0.0).reshape(1, 3)
    better = log_probs.clone()
    better[0, 1] = -1.0
    assert policy_gradient_loss(better, rewards) < policy_gradient_loss(log_probs, rewards)


def test_baseline_is_subtracted_from_rewards():
    log_probs = torch.full((2, 3), -1.0, requires_grad=True)
    rewards = t(0.2, 0.6, 0.9, 0.4, 0.6, 0.3).reshape(2, 3)
    baseline = rewards.mean(dim=0)  # per-position batch mean, broadcast over the batch
    loss = policy_gradient_loss(log_probs, rewards, baseline)
    loss.backward()
    torch.testing.assert_close(log_probs.grad, -(rewards - baseline) / 6)
    # Below-baseline tokens are pushed down, above-baseline tokens up; the mean advantage is 0 so the value is 0.
    assert log_probs.grad[0, 0] > 0 and log_probs.grad[1, 0] < 0
    close(loss, 0.0)
    # A scalar baseline equal to every reward gives no gradient at all.
    log_probs.grad = None
    policy_gradient_loss(log_probs, torch.full((2, 3), 0.7), baseline=0.7).backward()
    assert torch.equal(log_probs.grad, torch.zeros(2, 3))


def test_rewards_are_constants():
    rewards = torch.rand(2, 3, requires_grad=True)
    log_probs = torch.randn(2, 3, requires_grad=True)
    policy_gradient_loss(log_probs, rewards).backward()
    assert rewards.grad is None and log_probs.grad is not None


def test_policy_gradient_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must match"):
        policy_gradient_loss(torch.zeros(2, 3), torch.zeros(3, 2))


@pytest.mark.parametrize("one_hot_side", ["real", "fake"])
def test_the_penalty_interpolates_in_the_precision_of_the_one_hot_input_below_float32(one_hot_side):
    # float64 (test_mutations_killed) would hide a float32 one-hot or weight: promotion lifts it back to float64
    critic = OneDtypeCritic(torch.full((3, 5), 0.5, dtype=torch.bfloat16))
    ids = torch.randint(0, 5, (4, 3))
    one_hots = F.one_hot(torch.randint(0, 5, (4, 3)), 5).bfloat16()
    real, fake = (one_hots, ids) if one_hot_side == "real" else (ids, one_hots)
    penalty = gradient_penalty(critic, real, fake, weight=1.0)
    assert penalty.item() == pytest.approx((15**0.5 * 0.5 - 1) ** 2, rel=1e-2)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_cross_entropy_is_cross_entropy_of_the_linear_layer_with_its_gradients(bias):
    torch.manual_seed(0)
    features = torch.randn(300, 8, dtype=torch.float64, requires_grad=True)  # 3 chunks of 128, the last short
    weight = torch.randn(50, 8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(50, dtype=torch.float64, requires_grad=True) if bias else None
    targets = torch.randint(0, 50, (300,))
    expected = F.cross_entropy(F.linear(features, weight, b), targets)
    inputs = [features, weight] + ([b] if bias else [])
    expected_grads = torch.autograd.grad(3.0 * expected, inputs)
    loss = linear_cross_entropy(features, weight, b, targets)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(torch.autograd.grad(3.0 * loss, inputs), expected_grads):  # scaled by the incoming gradient
        torch.testing.assert_close(got, want)


def test_linear_cross_entropy_without_gradients_computes_the_loss_alone():
    features, weight = torch.randn(10, 4), torch.randn(6, 4)
    with torch.no_grad():
        loss = linear_cross_entropy(features, weight, None, torch.zeros(10, dtype=torch.long))
    assert loss.item() == pytest.approx(F.cross_entropy(features @ weight.t(), torch.zeros(10, dtype=torch.long)).item())
