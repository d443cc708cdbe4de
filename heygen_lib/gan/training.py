"""Training text GANs: MLE pre-training, then SeqGAN (policy gradient with rollouts) or a Gumbel-softmax GAN.

A `GANTrainer` holds a generator, a discriminator, the real data and the optimisers. Its phases are methods that do
one unit of work and return a record (a dict of numbers): `mle_epoch`, `discriminator_step`, `adversarial_step`
and `evaluate`. A notebook cell, a widget callback and a benchmark all call the same methods; every record goes to
`history`, to TensorBoard when a log folder is given, and to the callback you pass (for live plots). The trainer
itself never draws.

Protocols (`TrainConfig` defaults follow the papers where the kit can afford it):

* MLE: teacher forcing, Adam 1e-2, gradient norm clipped at 5 (SeqGAN's pre-training).
* SeqGAN (Yu et al. 2017): sample a batch, score every prefix with Monte-Carlo rollouts (`rewards.rollout_rewards`),
  update the generator with REINFORCE (`losses.policy_gradient_loss`; the batch-mean reward as baseline), then
  train the discriminator on real vs fresh samples. SeqGAN rolls out with a slowly updated copy of the generator;
  the kit rolls out with the generator itself (one network fewer; pass a copy to `rollout_rewards` to change it).
* Gumbel-softmax GAN (RelGAN, Nie et al. 2019): the generator's relaxed one-hot samples go straight into the
  discriminator, so any GAN loss (standard, RSGAN, hinge, WGAN-GP) trains it by backpropagation. The inverse
  temperature beta grows from 1 to `beta_max` over `anneal_steps` (RelGAN's exponential schedule).

Training survives interruption: `save` writes every weight, optimiser state, step counter, random state and the
history; `GANTrainer.load`-ing it and continuing gives the same numbers as never stopping. Checkpoints load with
``torch.load(weights_only=True)``. A loss that turns NaN or infinite stops training with `TrainingDiverged`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from heygen_lib.adversarial_state import TrainingDiverged, restore_trainer_state, save_trainer
from heygen_lib.gan.generators import TextGenerator, VAEGenerator, eval_mode, kl_annealing
from heygen_lib.gan.losses import LOSSES, gradient_penalty, make_optimizer, policy_gradient_loss
from heygen_lib.gan.rewards import rollout_rewards

Record = dict[str, Any]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of all phases. Defaults: SeqGAN's MLE protocol, RelGAN's adversarial learning rate."""

    batch_size: int = 64
    mle_lr: float = 1e-2  # SeqGAN pre-trains with Adam 1e-2
    clip: float = 5.0  # gradient-norm clipping, every phase
    method: str = "seqgan"  # "seqgan" (policy gradient with rollouts) or "gumbel" (Gumbel-softmax relaxation)
    optimizer: str = "adam"  # "adam" or "rmsprop", for the adversarial phase and the discriminator
    g_lr: float = 1e-4  # adversarial generator learning rate (RelGAN: Adam 1e-4)
    d_lr: float = 1e-4  # discriminator learning rate
    d_steps: int = 1  # discriminator updates per adversarial step (SeqGAN: several epochs per step; costly)
    rollouts: int = 16  # SeqGAN's Monte-Carlo rollouts per prefix
    reward_batch: int | None = None  # cap on rollout rows scored at once (bounds memory; None = all at once)
    baseline: bool = True  # subtract the batch-mean reward (lower-variance policy gradient)
    mle_mix: float = 0.0  # weight of a teacher-forcing loss on real data added to each adversarial update
    loss: str = "rsgan"  # Gumbel GAN loss: "standard", "rsgan" (RelGAN), "hinge" or "wgan-gp"
    gp_weight: float = 10.0  # WGAN-GP's penalty weight
    beta_max: float = 100.0  # Gumbel inverse temperature at the end of annealing (RelGAN tried 1 to 1000)
    anneal_steps: int = 1000  # adversarial steps over which beta grows from 1 to beta_max
    kl_schedule: str = "cyclical"  # VAE generators only: KL weight schedule over `kl_epochs` MLE epochs
    kl_epochs: int = 20  # ... after which the KL weight stays at 1 (see generators.kl_annealing)
    mixed_precision: bool = True  # bf16 autocast on CUDA; ignored on the CPU
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("seqgan", "gumbel"):
            raise ValueError(f"method must be 'seqgan' or 'gumbel', got {self.method!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")


class GANTrainer:
    """Trains `generator` against `discriminator` on `real` sequences [N, T]."""

    def __init__(
        self,
        generator: TextGenerator,
        discriminator: nn.Module,
        real: torch.Tensor,
        config: TrainConfig = TrainConfig(),
        log_dir: str | Path | None = None,
        callback: Callable[[Record], None] | None = None,
    ):
        torch.manual_seed(config.seed)
        self.generator, self.discriminator, self.config, self.callback = generator, discriminator, config, callback
        self.device = generator.device
        discriminator.to(self.device)
        self.real = real.cpu()
        self.data_rng = torch.Generator().manual_seed(config.seed)
        self.optimizers = {
            "mle": make_optimizer(generator.parameters(), "adam", lr=config.mle_lr),
            "generator": make_optimizer(generator.parameters(), config.optimizer, lr=config.g_lr),
            "discriminator": make_optimizer(discriminator.parameters(), config.optimizer, lr=config.d_lr),
        }
        self.steps = {"mle": 0, "discriminator": 0, "adversarial": 0, "eval": 0}
        self.history: list[Record] = []
        self.writer = None
        if log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(log_dir))

    # --- plumbing -------------------------------------------------------------------------------------------

    def _batch(self) -> torch.Tensor:
        index = torch.randint(len(self.real), (self.config.batch_size,), generator=self.data_rng)
        return self.real[index].to(self.device)

    def _autocast(self):
        if self.device.type == "cuda" and self.config.mixed_precision:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _update(self, optimizer: str, loss: torch.Tensor, module: nn.Module) -> None:
        self._check(optimizer, loss=loss.item())
        self.optimizers[optimizer].zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), self.config.clip)
        self.optimizers[optimizer].step()

    def _check(self, phase: str, **values: float) -> None:
        for name, value in values.items():
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"{phase} {name} is {value} at step {self.steps} ({self.config.method}, loss {self.config.loss}): "
                    "lower the learning rates, raise gradient clipping, or resume from the last checkpoint"
                )

    def _record(self, phase: str, **values: float) -> Record:
        self._check(phase, **values)
        self.steps[phase] += 1
        record = {"phase": phase, "step": self.steps[phase], **values}
        self.history.append(record)
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{phase}/{name}", value, self.steps[phase])
        if self.callback is not None:
            self.callback(record)
        return record

    # --- phases ---------------------------------------------------------------------------------------------

    def mle_epoch(self) -> Record:
        """One pass of teacher forcing over the real data in shuffled batches; records the mean NLL per token.

        A `VAEGenerator` minimises its ELBO instead, with the KL weight annealed over the first `kl_epochs` epochs
        (`kl_schedule`); the record then also holds the KL weight and the unweighted KL per token."""
        self.generator.train()
        order = torch.randperm(len(self.real), generator=self.data_rng)
        vae = isinstance(self.generator, VAEGenerator)
        epoch = self.steps["mle"]
        weight = kl_annealing(epoch, self.config.kl_epochs, self.config.kl_schedule) if epoch < self.config.kl_epochs else 1.0
        total = kl_total = 0.0
        for index in order.split(self.config.batch_size):
            batch = self.real[index].to(self.device)
            with self._autocast():
                if vae:
                    recon, kl = self.generator.elbo_loss(batch, kl_weight=weight)
                    loss = recon + kl
                    kl_total += (kl.item() / weight if weight else 0.0) * len(index)
                else:
                    loss = self.generator.nll(batch).mean()
            self._update("mle", loss, self.generator)
            total += loss.item() * len(index)
        extra = {"kl_weight": weight, "kl": kl_total / len(self.real)} if vae else {}
        return self._record("mle", nll=total / len(self.real), **extra)

    def discriminator_step(self) -> Record:
        """One discriminator update on a real batch and a fresh generated batch (binary cross-entropy for SeqGAN
        and for pre-training; the configured loss in a Gumbel GAN's adversarial phase)."""
        real = self._batch()
        with eval_mode(self.generator):
            fake = self.generator.sample(len(real))
        self.discriminator.train()
        with self._autocast():
            real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
            loss = LOSSES["standard"][0](real_logits, fake_logits)
        self._update("discriminator", loss, self.discriminator)
        accuracy = ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()) / 2
        return self._record("discriminator", loss=loss.item(), accuracy=accuracy.item())

    def beta(self) -> float:
        """The Gumbel inverse temperature now: 1 at the start, `beta_max` after `anneal_steps` (exponential)."""
        progress = min(1.0, self.steps["adversarial"] / max(1, self.config.anneal_steps))
        return self.config.beta_max**progress

    def adversarial_step(self) -> Record:
        """One generator update and `d_steps` discriminator updates, by the configured method."""
        if self.config.method == "seqgan":
            values = self._seqgan_generator_step()
            for _ in range(self.config.d_steps):
                values |= {f"d_{k}": v for k, v in self.discriminator_step().items() if k in ("loss", "accuracy")}
        else:
            values = self._gumbel_step()
        if self.config.mle_mix > 0:
            values["mle_nll"] = self._teacher_forcing_update()
        return self._record("adversarial", **values)

    def _seqgan_generator_step(self) -> dict[str, float]:
        with eval_mode(self.generator):
            samples = self.generator.sample(self.config.batch_size)
        rewards = rollout_rewards(
            self.generator, self.discriminator, samples, self.config.rollouts, batch_size=self.config.reward_batch
        )
        self.generator.train()
        with self._autocast():
            log_probs = -F.cross_entropy(self.generator(samples).float().transpose(1, 2), samples, reduction="none")
            baseline = rewards.mean() if self.config.baseline else None
            loss = policy_gradient_loss(log_probs, rewards, baseline)
        self._update("generator", loss, self.generator)
        return {"g_loss": loss.item(), "reward": rewards.mean().item()}

    def _gumbel_step(self) -> dict[str, float]:
        d_loss_fn, g_loss_fn = LOSSES[self.config.loss]
        tau = 1.0 / self.beta()
        self.discriminator.train()
        self.generator.train()
        for _ in range(self.config.d_steps):
            real = self._batch()
            with torch.no_grad():
                _, fake = self.generator.gumbel_sample(len(real), tau=tau)
            with self._autocast():
                real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
                d_loss = d_loss_fn(real_logits, fake_logits)
            if self.config.loss == "wgan-gp":
                d_loss = d_loss + gradient_penalty(self.discriminator, real, fake, weight=self.config.gp_weight)
            self._update("discriminator", d_loss, self.discriminator)
        real = self._batch()
        _, fake = self.generator.gumbel_sample(len(real), tau=tau)
        with self._autocast():
            g_loss = g_loss_fn(self.discriminator(real), self.discriminator(fake))
        self._update("generator", g_loss, self.generator)
        return {"g_loss": g_loss.item(), "d_loss": d_loss.item(), "beta": 1.0 / tau}

    def _teacher_forcing_update(self) -> float:
        self.generator.train()
        with self._autocast():
            loss = self.config.mle_mix * self.generator.nll(self._batch()).mean()
        self._update("generator", loss, self.generator)
        return loss.item() / self.config.mle_mix

    def evaluate(self, metrics: Callable[[TextGenerator], dict[str, float]]) -> Record:
        """Record `metrics(generator)` (e.g. `oracle_metrics(...)`), tagged with the current step counts."""
        with eval_mode(self.generator):
            values = metrics(self.generator)
        return self._record("eval", **values, mle_epochs=self.steps["mle"], adversarial_steps=self.steps["adversarial"])

    # --- checkpoints ----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Everything needed to resume, in one file of tensors and plain values (atomic write; the layout all
        adversarial trainers share, `heygen_lib.adversarial_state`)."""
        return save_trainer(path, self.config, *self._parts(), steps=dict(self.steps), history=self.history)

    def load(self, path: str | Path) -> GANTrainer:
        """Restore a checkpoint written by `save` into this trainer (same model shapes and config)."""
        state = restore_trainer_state(path, self.device, self.config, *self._parts())
        self.steps, self.history = dict(state["steps"]), list(state["history"])
        return self

    def _parts(self):
        return ({"generator": self.generator, "discriminator": self.discriminator}, self.optimizers,
                {"data_rng": self.data_rng})


def train_mle(trainer: GANTrainer, epochs: int, metrics: Callable[[TextGenerator], dict[str, float]] | None = None,
              eval_every: int = 5) -> list[Record]:
    """`epochs` of MLE with a progress bar, evaluating every `eval_every` epochs and at the end."""
    from tqdm.auto import trange

    records = []
    for epoch in trange(epochs, desc="MLE epochs", leave=False):
        records.append(trainer.mle_epoch())
        if metrics is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            records.append(trainer.evaluate(metrics))
    return records


def train_adversarial(trainer: GANTrainer, steps: int, metrics: Callable[[TextGenerator], dict[str, float]] | None = None,
                      eval_every: int = 10, checkpoint: str | Path | None = None) -> list[Record]:
    """`steps` adversarial steps with a progress bar, evaluating every `eval_every` steps and at the end, and saving
    a checkpoint there too when `checkpoint` names a file."""
    from tqdm.auto import trange

    records = []
    for step in trange(steps, desc=f"{trainer.config.method} steps", leave=False):
        records.append(trainer.adversarial_step())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            if metrics is not None:
                records.append(trainer.evaluate(metrics))
            if checkpoint is not None:
                trainer.save(checkpoint)
    return records


def seqgan_recipe(rollouts: int = 16, seed: int = 0) -> TrainConfig:
    """The kit's SeqGAN settings: 16 rollouts, batch 64, Adam; generator lr 1e-3 (SeqGAN used 1e-2), D lr 1e-4."""
    return TrainConfig(method="seqgan", rollouts=rollouts, g_lr=1e-3, d_lr=1e-4, seed=seed)


def gumbel_recipe(loss: str = "rsgan", steps: int = 1000, seed: int = 0) -> TrainConfig:
    """RelGAN-style settings: Adam 1e-4 for both networks, beta annealed from 1 to 100 over the whole run."""
    return TrainConfig(method="gumbel", loss=loss, g_lr=1e-4, d_lr=1e-4, beta_max=100.0, anneal_steps=steps, seed=seed)
