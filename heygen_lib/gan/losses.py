"""GAN losses on discriminator logits, the WGAN gradient penalty, SeqGAN's policy-gradient loss, and the MLE loss of a
generator's linear head computed without holding its logits.

Notation: ``r = D(real)`` and ``f = D(fake)`` are logits, shape [B]; ``sigma`` is the logistic sigmoid and
``softplus(z) = log(1 + e^z)``, so ``-log sigma(z) = softplus(-z)`` and ``-log(1 - sigma(z)) = softplus(z)``.
Every pair of losses takes ``(real_logits, fake_logits)`` so that the training loop can pick one by name from
`LOSSES`; a loss that ignores one of them says so. Means are over the batch. Logits are cast to float32 first, so
the losses are safe under mixed precision.

=========  ===================================================  =============================================
name       discriminator (critic) loss                          generator loss
=========  ===================================================  =============================================
standard   E softplus(-r) + E softplus(f)                       E softplus(-f)            (non-saturating)
wgan-gp    E f - E r  (+ gradient_penalty, added by the caller) -E f
rsgan      E softplus(-(r - f))                                 E softplus(-(f - r))
hinge      E relu(1 - r) + E relu(1 + f)                        -E f
=========  ===================================================  =============================================
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------------------------
# Standard GAN (Goodfellow et al. 2014)
# ---------------------------------------------------------------------------------------------------------------


def standard_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy, real labelled 1 and fake 0: ``E[-log sigma(r)] + E[-log(1 - sigma(f))]``.

    The sum of the two batch means, so an undecided discriminator (all logits 0) scores ``2 ln 2``; SeqGAN's
    softmax cross-entropy averages over the concatenated batch instead, which is half of this.
    """
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


def standard_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``E[-log sigma(f)]`` (Goodfellow et al. 2014, sec. 3); ignores `real_logits`.

    The minimax form ``E[log(1 - sigma(f))]`` has vanishing gradients when the discriminator confidently rejects
    the fakes, which is exactly when the generator most needs a signal.
    """
    return F.softplus(-fake_logits.float()).mean()


# ---------------------------------------------------------------------------------------------------------------
# Wasserstein GAN with gradient penalty (Arjovsky et al. 2017; Gulrajani et al. 2017, "Improved Training of WGANs")
# ---------------------------------------------------------------------------------------------------------------


def wasserstein_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Critic loss ``E[f] - E[r]``: minimising it maximises the critic's estimate of the Wasserstein-1 distance.

    The estimate is only meaningful for a 1-Lipschitz critic: add `gradient_penalty` (WGAN-GP) to this loss.
    """
    return fake_logits.float().mean() - real_logits.float().mean()


def wasserstein_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator loss ``-E[f]``: raise the critic's score of the fakes; ignores `real_logits`."""
    return -fake_logits.float().mean()


def as_one_hot(x: torch.Tensor, vocab_size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Token ids [B,T] as one-hot vectors [B,T,V]; a float input is taken to be one-hot already and returned."""
    if x.is_floating_point():
        return x
    return F.one_hot(x, vocab_size).to(dtype)


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``weight * E[(||grad_x D(x_hat)||_2 - 1)^2]`` (Gulrajani et al. 2017, eq. 3; weight 10).

    ``x_hat = a * real + (1 - a) * fake`` with ``a ~ U(0, 1)`` drawn once per sample, in the discriminator's input
    space. For text that space is one-hot vectors [B,T,V]: ids are turned into one-hots (V from the other input,
    or ``discriminator.config.vocab_size`` when both are ids) and fakes are usually Gumbel-softmax soft one-hots.
    The norm is over all of one sample's T*V inputs. Both inputs are detached: the penalty trains the critic only.
    `generator` (a torch.Generator on the inputs' device) makes the interpolation weights reproducible.
    """
    if real.is_floating_point():
        vocab_size = real.size(-1)
    elif fake.is_floating_point():
        vocab_size = fake.size(-1)
    else:
        vocab_size = discriminator.config.vocab_size
    dtype = fake.dtype if fake.is_floating_point() else real.dtype if real.is_floating_point() else torch.float32
    real = as_one_hot(real.detach(), vocab_size, dtype)
    fake = as_one_hot(fake.detach(), vocab_size, dtype)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {list(real.shape)} and {list(fake.shape)}")
    shape = (real.size(0),) + (1,) * (real.dim() - 1)  # one weight per sample, broadcast over T and V
    alpha = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
    scores = discriminator(x_hat)  # [B]
    (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)  # [B, T, V]
    norms = torch.linalg.vector_norm(grad.float().flatten(1), dim=1)  # [B]
    return weight * ((norms - 1.0) ** 2).mean()


# ---------------------------------------------------------------------------------------------------------------
# Relativistic standard GAN (Jolicoeur-Martineau 2018, "The relativistic discriminator"; RelGAN's loss)
# ---------------------------------------------------------------------------------------------------------------


def rsgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[-log sigma(r - f)]``: the discriminator learns that a real sample looks *more* real than a fake one.

    Samples are paired by position (real i with fake i), as in RelGAN, so the batches must have the same size.
    """
    _check_paired(real_logits, fake_logits)
    return F.softplus(-(real_logits.float() - fake_logits.float())).mean()


def rsgan_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[-log sigma(f - r)]``: the generator makes its fakes look more real than the paired real samples."""
    _check_paired(real_logits, fake_logits)
    return F.softplus(-(fake_logits.float() - real_logits.float())).mean()


def _check_paired(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            f"relativistic losses pair real and fake samples: shapes {list(real_logits.shape)} and "
            f"{list(fake_logits.shape)} differ"
        )


# ---------------------------------------------------------------------------------------------------------------
# Hinge (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, spectral normalisation)
# ---------------------------------------------------------------------------------------------------------------


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[relu(1 - r)] + E[relu(1 + f)]``: only samples inside the margin (r < 1, f > -1) cost anything."""
    return F.relu(1.0 - real_logits.float()).mean() + F.relu(1.0 + fake_logits.float()).mean()


def hinge_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-E[f]``, as for WGAN; ignores `real_logits`."""
    return -fake_logits.float().mean()


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# name -> (discriminator loss, generator loss); both called as loss(real_logits, fake_logits).
# "wgan-gp": the caller adds gradient_penalty(discriminator, real, fake) to the critic loss.
LOSSES: dict[str, tuple[LossFn, LossFn]] = {
    "standard": (standard_d_loss, standard_g_loss),
    "wgan-gp": (wasserstein_d_loss, wasserstein_g_loss),
    "rsgan": (rsgan_d_loss, rsgan_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
}


# ---------------------------------------------------------------------------------------------------------------
# Policy gradient (SeqGAN)
# ---------------------------------------------------------------------------------------------------------------


def policy_gradient_loss(
    log_probs: torch.Tensor,
    rewards: torch.Tensor,
    baseline: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """REINFORCE (Williams 1992) as SeqGAN uses it: ``-mean_{b,t}[(Q[b,t] - baseline) * log G(y_t | y_<t)]``.

    `log_probs` [B,T]: log-probability the generator gave each sampled token (differentiable). `rewards` [B,T]:
    the action value of each token, e.g. the mean discriminator probability over Monte-Carlo rollouts; treated as
    constants (detached). `baseline`: a scalar or anything broadcastable to [B,T] (e.g. the batch's mean reward
    per position); subtracting it leaves the expected gradient unchanged and lowers its variance.

    The gradient raises the log-probability of tokens whose reward beats the baseline and lowers the others.
    SeqGAN sums over tokens instead of averaging; with Adam the scale of the loss barely matters.
    """
    if log_probs.shape != rewards.shape:
        raise ValueError(f"log_probs {list(log_probs.shape)} and rewards {list(rewards.shape)} must match")
    advantage = rewards.detach().float()
    if baseline is not None:
        advantage = advantage - (baseline.detach().float() if isinstance(baseline, torch.Tensor) else baseline)
    return -(advantage * log_probs.float()).mean()


# ---------------------------------------------------------------------------------------------------------------
# Maximum likelihood (teacher forcing), from the last hidden states
# ---------------------------------------------------------------------------------------------------------------

CHUNK_ROWS = 128  # rows whose [rows, V] logits are made at once on a CPU: 2.5 MB at V = 5,000, kept in the cache


def linear_cross_entropy(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         targets: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy(features @ weight.T + bias, targets)``: the mean over N rows of
    ``-log softmax(logits)[target]``, without ever holding the [N, V] logits.

    `features` [N, H] (a generator's last hidden states), `weight` [V, H] and `bias` [V] (its output layer, bias may
    be None), `targets` [N] ids. The rows go through in chunks of `CHUNK_ROWS` (all at once on a GPU): each chunk's
    logits are made, turned into the loss and, when gradients are wanted, straight into the gradients, since for
    a mean cross-entropy they are known in the forward pass::

        d loss / d logits[i] = (softmax(logits[i]) - onehot(target[i])) / N

    so backward only scales them by its incoming gradient. The same number as the plain formulation (a test checks
    values and gradients); on a CPU the [N, V] logits, softmax and gradient never leave the cache, which makes an
    MLE step on SeqGAN's shapes much faster (`benchmarks/mle_speed.py`). Computed in float32 (float64 for double
    inputs), under mixed precision too.
    """
    return _LinearCrossEntropy.apply(features, weight, bias, targets)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features, weight, bias, targets):  # noqa: ANN001 (autograd's signature)
        dtypes = (features.dtype, weight.dtype, None if bias is None else bias.dtype)
        with torch.autocast(features.device.type, enabled=False):
            wide = torch.promote_types(features.dtype, torch.float32)  # float32, or float64 for double inputs
            h, w = features.to(wide), weight.to(wide)
            if bias is not None:  # the bias as one more input that is always 1: one matmul, no bias copy, and its
                h = torch.cat([h, h.new_ones(len(h), 1)], dim=1)  # gradient comes out as the last column
                w = torch.cat([w, bias.to(wide)[:, None]], dim=1)  # [V, H + 1]
            n, width = features.shape
            want = ctx.needs_input_grad[:3]
            grad_h = h.new_empty(n, width) if want[0] else None
            grad_w = torch.zeros_like(w) if want[1] or (bias is not None and want[2]) else None
            total = h.new_zeros(())
            step = CHUNK_ROWS if h.device.type == "cpu" else max(n, 1)
            for start in range(0, n, step):
                rows, target = h[start : start + step], targets[start : start + step]
                logits = rows @ w.t()  # [c, V]
                picked = logits.gather(1, target[:, None])
                top = logits.amax(dim=1, keepdim=True)
                e = logits.sub_(top).exp_()  # in place: exp(logits - max)
                norm = e.sum(dim=1, keepdim=True)
                total += (norm.log() + top - picked).sum()  # log-sum-exp minus the target's logit
                if any(want):
                    p = e.div_(norm)  # softmax
                    p[torch.arange(len(target), device=p.device), target] -= 1.0  # ... minus the one-hot
                    if grad_h is not None:
                        torch.mm(p, w[:, :width], out=grad_h[start : start + step])
                    if grad_w is not None:
                        grad_w.addmm_(p.t(), rows)
            if grad_w is not None:
                grad_w, grad_b = grad_w[:, :width], (grad_w[:, width] if bias is not None else None)
            else:
                grad_b = None
            grad_w = grad_w if want[1] else None
            grad_b = grad_b if bias is not None and want[2] else None
        ctx.save_for_backward(*(g if g is None else g / max(n, 1) for g in (grad_h, grad_w, grad_b)))
        ctx.dtypes = dtypes
        return total / max(n, 1)

    @staticmethod
    def backward(ctx, grad_loss):  # noqa: ANN001
        return (*(None if g is None else (g * grad_loss).to(dtype) for g, dtype in zip(ctx.saved_tensors, ctx.dtypes)),
                None)
