"""Small torch helpers every trainer of the kit uses: a temporary eval mode and an optimiser by name.

The bottom layer: it imports torch and nothing of the kit, so any module may import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

# Learning rates from the literature (see make_optimizer).
SEQGAN_MLE_LR = 1e-2  # SeqGAN: Adam, generator MLE pre-training and adversarial updates, gradients clipped to 5
SEQGAN_DISCRIMINATOR_LR = 1e-4  # SeqGAN: Adam, discriminator
RELGAN_ADVERSARIAL_LR = 1e-4  # RelGAN: Adam, betas (0.9, 0.999), generator and discriminator
WGAN_RMSPROP_LR = 5e-5  # WGAN (Arjovsky et al. 2017, weight clipping): RMSprop


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put `modules` in eval mode (no dropout) for the block, then restore each one's previous mode."""
    was_training = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, was_training):
            m.train(mode)


def make_optimizer(
    params: Iterable[torch.Tensor] | Iterable[dict],
    name: str = "adam",
    lr: float = RELGAN_ADVERSARIAL_LR,
    betas: tuple[float, float] = (0.9, 0.999),
    alpha: float = 0.99,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Adam (`betas` used) or RMSprop (`alpha`, its smoothing constant, used) over `params`.

    Defaults in the literature: SeqGAN trains its generator with Adam at 1e-2 (MLE and adversarial) and its
    discriminator with Adam at 1e-4; RelGAN uses Adam at 1e-4 with betas (0.9, 0.999) for both adversarial nets;
    WGAN used RMSprop at 5e-5 because momentum destabilised weight-clipped critics; WGAN-GP went back to Adam
    (Gulrajani et al. 2017, Algorithm 1: 1e-4, betas (0, 0.9)).
    """
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=alpha, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {name!r}")
