"""Per-token rewards for policy-gradient text GANs (SeqGAN): Monte-Carlo rollouts judged by the discriminator.

A finished sequence gets one verdict from the discriminator, but the generator chose every token. SeqGAN credits
token t with the expected verdict on the sequences it leads to: complete the prefix ``tokens[:, :t+1]`` n_rollouts
times with the generator itself, score every completion, and average::

    reward[b, t] = mean_r sigmoid(D(rollout r of tokens[b, :t+1]))     for t < T-1
    reward[b, T-1] = sigmoid(D(tokens[b]))                             (nothing left to complete)

`rollout_rewards` does this with all completions sampled in one batched computation (`TextGenerator.rollout`) and
scored in a few large discriminator calls; `rollout_rewards_reference` is the common per-step version, kept as the
yardstick for tests and `benchmarks/rollout_rewards.py`.

A sample's reward must depend on that sample alone. The completions come back as [rollout, prefix, batch, T]; the
scores are averaged over the rollout axis by name, never by reshaping a [rollout, prefix, batch] tensor as if it
were [batch, prefix, rollout] (a popular implementation does exactly that, and silently hands each sample a mix of
other samples' rewards).
"""

from __future__ import annotations

import torch
from torch import nn

from heygen_lib.torch_utils import eval_mode

from .generators import TextGenerator


def rollout_rewards(
    generator: TextGenerator,
    discriminator: nn.Module,
    samples: torch.Tensor,
    n_rollouts: int,
    batch_size: int | None = None,
    temperature: float = 1.0,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    """SeqGAN rewards for `samples` [B, T]: FloatTensor [B, T] of probabilities in (0, 1).

    ``batch_size`` caps how many completed sequences are made and scored at once: None makes all
    ``n_rollouts * (T-1) * B`` in one go and scores them all at once on a GPU, in batches of `SCORE_ROWS` on a CPU
    (where a batch that fits the cache is faster per row); a number splits the rollouts into groups of
    ``max(1, batch_size // ((T-1) * B))`` and the discriminator calls into batches of `batch_size`, which bounds
    memory (the discriminator's activations).

    Both networks run in eval mode (no dropout; each module's mode is restored afterwards), without gradients:
    the rewards are constants for the policy-gradient loss. The rollouts sample from `generator` as it is; SeqGAN
    rolls out with a slowly updated copy of the generator, which you pass here in its place.
    """
    B, T = samples.shape
    if n_rollouts < 1 or T < 2:
        raise ValueError(f"need n_rollouts >= 1 and sequences of length >= 2, got {n_rollouts} and {T}")
    rows_per_rollout = (T - 1) * B
    per_group = n_rollouts if batch_size is None else max(1, min(n_rollouts, batch_size // rows_per_rollout))
    device = generator.device
    score_batch = batch_size or (SCORE_ROWS if device.type == "cpu" else n_rollouts * rows_per_rollout)
    samples = samples.to(device)
    rewards = torch.zeros(B, T, device=device)
    with torch.no_grad(), eval_mode(generator, discriminator):
        total = torch.zeros(T - 1, B, device=device)  # sum over rollouts of P(real), per [prefix, sample]
        done = 0
        while done < n_rollouts:
            r = min(per_group, n_rollouts - done)
            completions = generator.rollout(samples, r, temperature, generator=rng)  # [r, T-1, B, T]
            probs = _probabilities(discriminator, completions.view(-1, T), score_batch)
            total += probs.view(r, T - 1, B).sum(dim=0)  # the rollout axis, by position: no mixing of samples
            done += r
        rewards[:, : T - 1] = (total / n_rollouts).t()  # [T-1, B] -> [B, T-1]
        rewards[:, T - 1] = torch.sigmoid(discriminator(samples).float())
    return rewards


SCORE_ROWS = 1024  # sequences per discriminator call on a CPU: SeqGAN's 4.08M-parameter CNN scores faster per
# sequence in batches of 256-1,024 than of 4,096 (about 1.2x; benchmarks/rollout_rewards.py --score-rows)


def _probabilities(discriminator: nn.Module, sequences: torch.Tensor, batch_size: int) -> torch.Tensor:
    """sigmoid(D(x)) for [N, T] ids, in batches of `batch_size`: [N] float32."""
    return torch.cat([torch.sigmoid(discriminator(chunk).float()) for chunk in sequences.split(batch_size)])


def rollout_rewards_reference(
    generator: TextGenerator,
    discriminator: nn.Module,
    samples: torch.Tensor,
    n_rollouts: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """The same rewards computed the common, slow way (as in SeqGAN's ``rollout.py``), for tests and benchmarks.

    For every rollout and every prefix length: run the generator over the prefix again from the start, sample the
    rest one token at a time with ``torch.multinomial``, and score the batch of B completions. That is
    n_rollouts * (T-1) re-reads of a prefix and as many small discriminator calls.
    """
    B, T = samples.shape
    device = generator.device
    samples = samples.to(device)
    start = torch.full((B,), generator.config.start_token, dtype=torch.long, device=device)
    rewards = torch.zeros(B, T, device=device)
    with torch.no_grad(), eval_mode(generator, discriminator):
        for _ in range(n_rollouts):
            for t in range(1, T):
                logits, state = generator.step(start, generator.init_state(samples))
                for i in range(t):  # re-run the generator over the prefix samples[:, :t]
                    logits, state = generator.step(samples[:, i], state)
                completion = samples.clone()
                for i in range(t, T):  # then sample the rest, token by token
                    completion[:, i] = _draw(logits, temperature)
                    if i < T - 1:
                        logits, state = generator.step(completion[:, i], state)
                rewards[:, t - 1] += torch.sigmoid(discriminator(completion).float())
        rewards[:, :-1] /= n_rollouts
        rewards[:, T - 1] = torch.sigmoid(discriminator(samples).float())
    return rewards


def _draw(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    return torch.multinomial(torch.softmax(logits.float() / temperature, dim=-1), 1)[:, 0]
