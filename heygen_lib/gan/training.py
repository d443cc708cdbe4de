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

Under ``torchrun`` (``python -m heygen_lib.gan`` in N processes) the same trainer trains data-parallel through one
seam, `heygen_lib.gan.data_parallel.DataParallel` (``self.parallel``), which hands back what it is given in one
process: every batch size in `TrainConfig` is the global batch, of which each process takes its slice; gradients are
averaged over processes; generated samples and their rollouts come in seeded shards; only rank 0 evaluates, logs and
writes checkpoints, which are the same files whatever the number of processes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from heygen_lib import distributed
from heygen_lib.adversarial_state import check_finite, guarded_update, restore_trainer_state, save_trainer
from heygen_lib.checkpoints import CheckpointError
from heygen_lib.gan.data_parallel import DataParallel
from heygen_lib.gan.generators import TextGenerator, VAEGenerator, kl_annealing
from heygen_lib.gan.losses import LOSSES, gradient_penalty, policy_gradient_loss
from heygen_lib.gan.rewards import rollout_rewards
from heygen_lib.torch_utils import eval_mode, make_optimizer

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
    anneal_steps: int | None = None  # adversarial steps over which beta grows from 1 to beta_max; None: the length
    # of the run, as `train_adversarial` plans it (RelGAN anneals over its whole adversarial training)
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
    """Trains `generator` against `discriminator` on `real` sequences [N, T].

    `data_name` says what `real` is (a file name), for checkpoints: a checkpoint records the real data it was trained
    on (its name, shape and SHA-256), and `load` refuses one trained on other data. `sample_shards`: see
    `data_parallel.DataParallel` (None, the default, is right in a notebook)."""

    def __init__(
        self,
        generator: TextGenerator,
        discriminator: nn.Module,
        real: torch.Tensor,
        config: TrainConfig = TrainConfig(),
        log_dir: str | Path | None = None,
        callback: Callable[[Record], None] | None = None,
        sample_shards: int | None = None,
        data_name: str = "the real data",
    ):
        torch.manual_seed(config.seed)  # the same in every process: dropout, evaluation and rank 0's checkpoint
        self.generator, self.discriminator, self.config, self.callback = generator, discriminator, config, callback
        self.device = generator.device
        discriminator.to(self.device)
        # The one seam to several processes: in a notebook every call to it hands back what it was given.
        self.parallel = DataParallel(config.seed, config.batch_size, sample_shards, self.device)
        self.parallel.share_weights(generator, discriminator)
        self.real = real.cpu()
        self.data = {"name": data_name, "sequences": len(real), "length": real.size(1),
                     "vocabulary": generator.config.vocab_size, "sha256": _sha256(self.real)}
        self.data_rng = torch.Generator().manual_seed(config.seed)
        self.optimizers = {
            "mle": make_optimizer(generator.parameters(), "adam", lr=config.mle_lr),
            "generator": make_optimizer(generator.parameters(), config.optimizer, lr=config.g_lr),
            "discriminator": make_optimizer(discriminator.parameters(), config.optimizer, lr=config.d_lr),
        }
        self.steps = {"mle": 0, "discriminator": 0, "adversarial": 0, "eval": 0, "d_pretrain": 0}
        self.planned_adversarial_steps: int | None = None  # set by train_adversarial: the run's length
        self.history: list[Record] = []
        self._last_evaluation: tuple[Callable, Record] | None = None  # (metrics, its record), for evaluate(reuse=True)
        self.writer = None
        if log_dir is not None and distributed.is_main():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(log_dir))

    # --- plumbing -------------------------------------------------------------------------------------------

    def _batch(self) -> torch.Tensor:
        """A random batch of real data (this process's rows of it under torchrun)."""
        index = torch.randint(len(self.real), (self.config.batch_size,), generator=self.data_rng)
        return self.real[self.parallel.rows(index)[0]].to(self.device)

    def _fake(self, n: int, draw: Callable[[int, torch.Generator | None], Any]) -> Any:
        """`draw(rows, rng)` for `n` generated rows (this process's under torchrun, `DataParallel.generated`)."""
        return self.parallel.generated(n, draw)

    def _autocast(self):
        if self.device.type == "cuda" and self.config.mixed_precision:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _where(self) -> str:
        return f"step {self.steps} ({self.config.method}, loss {self.config.loss})"

    def _update(self, optimizer: str, loss: torch.Tensor, module: nn.Module) -> None:
        """`adversarial_state.guarded_update`: finite loss or stop, backward, clip, step (gradients averaged over
        processes under torchrun)."""
        guarded_update(self.optimizers[optimizer], loss, module.parameters(), self.config.clip, phase=optimizer,
                       where=self._where(), replicas=self.parallel)

    def _record(self, phase: str, **values: float | torch.Tensor) -> Record:
        """Record `values` (a tensor: this process's number, averaged over processes) after checking they are
        finite; to the history, TensorBoard and the callback."""
        values = self.parallel.mean_values(values)
        check_finite(phase, self._where(), **values)
        self.steps[phase] += 1
        record = {"phase": phase, "step": self.steps[phase], **values}
        self.history.append(record)
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{phase}/{name}", value, self.steps[phase])
        if self.callback is not None and distributed.is_main():
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
        kl_weight = kl_annealing(epoch, self.config.kl_epochs, self.config.kl_schedule) if epoch < self.config.kl_epochs else 1.0
        total = kl_total = torch.zeros((), device=self.device)  # sums over batches, weighted by their rows
        for index in order.split(self.config.batch_size):
            rows, share = self.parallel.rows(index)  # in one process: all rows, share 1
            batch = self.real[rows].to(self.device)
            with self._autocast():
                if vae:
                    recon, kl = self.generator.elbo_loss(batch, kl_weight=kl_weight)
                    loss = share * (recon + kl)
                    if kl_weight:
                        kl_total = kl_total + share * kl.detach().float() / kl_weight * len(index)
                else:
                    loss = share * self.generator.mle_loss(batch)  # the mean NLL per token of the batch
            self._update("mle", loss, self.generator)
            total = total + loss.detach().float() * len(index)
        extra = {"kl_weight": kl_weight, "kl": kl_total / len(self.real)} if vae else {}
        return self._record("mle", nll=total / len(self.real), **extra)

    def discriminator_step(self) -> Record:
        """One discriminator update on a real batch and a fresh generated batch (binary cross-entropy for SeqGAN
        and for pre-training; the configured loss in a Gumbel GAN's adversarial phase)."""
        real = self._batch()
        with eval_mode(self.generator):
            fake = self._fake(len(real), lambda n, rng: self.generator.sample(n, generator=rng))
        self.discriminator.train()
        with self._autocast():
            real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
            loss = LOSSES["standard"][0](real_logits, fake_logits)
        self._update("discriminator", loss, self.discriminator)
        accuracy = ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()) / 2
        return self._record("discriminator", loss=loss.detach(), accuracy=accuracy)

    @torch.no_grad()
    def discriminator_accuracy(self, real: torch.Tensor, batch_size: int = 1000) -> float:
        """How often the discriminator (eval mode) tells which of a pair is real: each of the `real` sequences
        [N, T] is paired with a *fresh* sample of the generator, and a pair counts when the real one gets the
        higher logit (ties count half). 0.5 is chance. Comparing the two logits, not each logit with 0, makes the
        number mean the same under every loss: relativistic and Wasserstein critics leave the logits' offset free.

        Pass real data the discriminator never trained on (held-out) to measure what it learned about the language,
        and training data to measure what it memorised; the negatives are new either way. Under torchrun rank 0
        measures and tells the others."""
        return self.parallel.on_rank_0(lambda: self._pair_accuracy(real, batch_size))

    @torch.no_grad()
    def _pair_accuracy(self, real: torch.Tensor, batch_size: int) -> float:
        hits = 0.0
        with eval_mode(self.generator, self.discriminator):
            for chunk in real.split(batch_size):
                fake = self.generator.sample(len(chunk))
                r, f = self.discriminator(chunk.to(self.device)).float(), self.discriminator(fake).float()
                hits += ((r > f).float() + 0.5 * (r == f).float()).sum().item()
        return hits / len(real)

    def pretrain_discriminator(self, held_out: torch.Tensor, max_steps: int, target: float = 0.6,
                               check_every: int = 50) -> Record:
        """Discriminator batches (real vs fresh samples) until its accuracy on `held_out` real data (never trained
        on) reaches `target`, checked every `check_every` batches, or `max_steps` batches have run. Records and
        returns both accuracies, on as many training sequences as `held_out` has and on `held_out`."""
        steps = 0
        while steps < max_steps:
            for _ in range(min(check_every, max_steps - steps)):
                self.discriminator_step()
                steps += 1
            if self.discriminator_accuracy(held_out) >= target:
                break
        train_sample = self.real[torch.randperm(len(self.real), generator=self.data_rng)[: len(held_out)]]
        return self._record("d_pretrain", batches=steps, train_accuracy=self.discriminator_accuracy(train_sample),
                            held_out_accuracy=self.discriminator_accuracy(held_out))

    def beta(self) -> float:
        """The Gumbel inverse temperature of the next adversarial step, RelGAN's exponential schedule
        ``beta_max ** (i / (N - 1))`` for step i = 0 .. N-1 of N (`anneal_steps`, or the planned run length when
        None): 1 at the first step, exactly `beta_max` at the last, and `beta_max` after it."""
        total = self.config.anneal_steps or self.planned_adversarial_steps
        if total is None:
            raise ValueError("set TrainConfig.anneal_steps, or run train_adversarial (which plans the run's length)")
        progress = min(1.0, self.steps["adversarial"] / max(1, total - 1))
        return self.config.beta_max**progress

    def adversarial_step(self) -> Record:
        """One generator update and `d_steps` discriminator updates, by the configured method."""
        if self.config.method == "seqgan":
            # Under torchrun each process samples and rolls out its shards, and every process gets the whole batch.
            samples, rewards = self.parallel.whole_batch(self.config.batch_size, self._samples_with_rewards)
            values = self._seqgan_generator_step(samples, rewards)
            for _ in range(self.config.d_steps):
                values |= {f"d_{k}": v for k, v in self.discriminator_step().items() if k in ("loss", "accuracy")}
        else:
            values = self._gumbel_step()
        if self.config.mle_mix > 0:
            values["mle_nll"] = self._teacher_forcing_update()
        return self._record("adversarial", **values)

    def _seqgan_generator_step(self, samples: torch.Tensor, rewards: torch.Tensor) -> dict[str, float]:
        """REINFORCE on sampled tokens [B, T] and their rollout rewards [B, T]."""
        self.generator.train()
        with self._autocast():
            log_probs = -self.generator.token_nll(samples)  # [B, T]: log G(y_t | y_<t) of each sampled token
            baseline = rewards.mean() if self.config.baseline else None  # the batch's mean reward
            loss = policy_gradient_loss(log_probs, rewards, baseline)
        self._update("generator", loss, self.generator)
        return {"g_loss": loss.item(), "reward": rewards.mean().item()}

    def _samples_with_rewards(self, n: int, rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` samples of the generator (eval mode) and their SeqGAN rewards (`rewards.rollout_rewards`), drawn
        from `rng` (the global random state when None)."""
        with eval_mode(self.generator):
            samples = self.generator.sample(n, generator=rng)
        return samples, rollout_rewards(self.generator, self.discriminator, samples, self.config.rollouts,
                                        batch_size=self.config.reward_batch, rng=rng)

    def _gumbel_step(self) -> dict[str, float | torch.Tensor]:
        d_loss_fn, g_loss_fn = LOSSES[self.config.loss]
        tau = 1.0 / self.beta()
        self.discriminator.train()
        self.generator.train()

        def relaxed(n: int) -> torch.Tensor:  # soft one-hots [n, T, V]
            return self._fake(n, lambda rows, rng: self.generator.gumbel_sample(rows, tau=tau, generator=rng))[1]

        for _ in range(self.config.d_steps):
            real = self._batch()
            with torch.no_grad():
                fake = relaxed(len(real))
            with self._autocast():
                d_loss = d_loss_fn(self.discriminator(real), self.discriminator(fake))
            if self.config.loss == "wgan-gp":
                d_loss = d_loss + self._penalty(real, fake)
            self._update("discriminator", d_loss, self.discriminator)
        real = self._batch()
        fake = relaxed(len(real))
        with self._autocast():  # the discriminator's own gradients here are discarded (zeroed before its next step)
            g_loss = g_loss_fn(self.discriminator(real), self.discriminator(fake))
        self._update("generator", g_loss, self.generator)
        return {"g_loss": g_loss.detach(), "d_loss": d_loss.detach(), "beta": 1.0 / tau}

    def _penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP's gradient penalty; when sharded, each shard's rows interpolate with their shard's draws."""
        weight = self.config.gp_weight
        rngs = self.parallel.shard_rngs()
        if rngs is None:
            return gradient_penalty(self.discriminator, real, fake, weight=weight)
        return torch.stack([gradient_penalty(self.discriminator, r, f, weight=weight, generator=rng)
                            for r, f, rng in zip(real.chunk(len(rngs)), fake.chunk(len(rngs)), rngs)]).mean()

    def _teacher_forcing_update(self) -> torch.Tensor:
        self.generator.train()
        with self._autocast():
            batch = self._batch()
            nll = self.generator.mle_loss(batch)
        self._update("generator", self.config.mle_mix * nll, self.generator)
        return nll.detach()

    def evaluate(self, metrics: Callable[[TextGenerator], dict[str, float]], reuse: bool = False) -> Record:
        """Record `metrics(generator)` (e.g. `oracle_metrics(...)`), tagged with the current step counts. Under
        torchrun rank 0 evaluates and every process records its numbers.

        With `reuse`, the last evaluation is returned instead when this same `metrics` made it and no generator
        step has run since: a results table then shows the training curve's last point itself, not a second draw
        of the same weights that differs from it by the evaluation noise."""
        last = self._last_evaluation
        if reuse and last is not None and last[0] is metrics and last[1]["mle_epochs"] == self.steps["mle"] \
                and last[1]["adversarial_steps"] == self.steps["adversarial"]:
            return last[1]
        with eval_mode(self.generator):
            values = self.parallel.on_rank_0(lambda: metrics(self.generator))
        record = self._record("eval", **values, mle_epochs=self.steps["mle"],
                              adversarial_steps=self.steps["adversarial"])
        self._last_evaluation = (metrics, record)
        return record

    # --- checkpoints ----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Everything needed to resume, in one file of tensors and plain values (atomic write; the layout all
        adversarial trainers share, `heygen_lib.adversarial_state`). Under torchrun rank 0 writes (every process
        holds the same weights, optimiser states, real-data generator and counters) and the others wait for it; the
        file resumes on any number of processes."""
        path = Path(path)
        distributed.on_main(lambda: save_trainer(path, self.config, *self._parts(), steps=dict(self.steps),
                                                 planned_adversarial_steps=self.planned_adversarial_steps or 0,
                                                 sample_draws=self.parallel.draws, history=self.history,
                                                 real_data=self.data))
        return path

    def load(self, path: str | Path) -> GANTrainer:
        """Restore a checkpoint written by `save` into this trainer (same model shapes and config)."""
        state = restore_trainer_state(path, self.device, self.config, *self._parts(),
                                      check=lambda saved: self._same_data(path, saved.get("real_data")))
        self.steps, self.history = dict(state["steps"]), list(state["history"])
        self.planned_adversarial_steps = state.get("planned_adversarial_steps") or None
        self.parallel.draws = int(state.get("sample_draws", 0))
        self._last_evaluation = None
        return self

    def _same_data(self, path: str | Path, saved: dict[str, Any] | None) -> None:
        """Refuse a checkpoint trained on other real data, naming both (checkpoints from before this record pass)."""
        if saved is not None and saved["sha256"] != self.data["sha256"]:
            def what(d: dict[str, Any]) -> str:
                return f"{d['name']} ({d['sequences']} sequences of {d['length']} tokens, vocabulary {d['vocabulary']})"

            raise CheckpointError(f"{path} was trained on {what(saved)}, not on {what(self.data)}: resume it with the "
                                  "data it was trained on, or start a new checkpoint")

    def _parts(self):
        return ({"generator": self.generator, "discriminator": self.discriminator}, self.optimizers,
                {"data_rng": self.data_rng})


def _sha256(tokens: torch.Tensor) -> str:
    return hashlib.sha256(tokens.to(torch.int64).contiguous().numpy().tobytes()).hexdigest()


def train_mle(trainer: GANTrainer, epochs: int, metrics: Callable[[TextGenerator], dict[str, float]] | None = None,
              eval_every: int = 5) -> list[Record]:
    """`epochs` of MLE with a progress bar, evaluating every `eval_every` epochs and at the end."""
    from tqdm.auto import trange

    records = []
    for epoch in trange(epochs, desc="MLE epochs", leave=False, disable=not distributed.is_main()):
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
    trainer.planned_adversarial_steps = trainer.steps["adversarial"] + steps  # the Gumbel schedule's length
    for step in trange(steps, desc=f"{trainer.config.method} steps", leave=False, disable=not distributed.is_main()):
        records.append(trainer.adversarial_step())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            if metrics is not None:
                records.append(trainer.evaluate(metrics))
            if checkpoint is not None:
                trainer.save(checkpoint)
    return records


def seqgan_recipe(rollouts: int = 16, seed: int = 0) -> TrainConfig:
    """The kit's first SeqGAN settings, kept for comparison: generator lr 1e-3, D lr 1e-4, one D batch per step.
    With these the discriminator stays near chance (held-out accuracy 0.43-0.55 on the published oracle after 200
    batches) and nothing moves; prefer `recipe("seqgan_paper")`."""
    return TrainConfig(method="seqgan", rollouts=rollouts, g_lr=1e-3, d_lr=1e-4, seed=seed)


def gumbel_recipe(loss: str = "rsgan", steps: int | None = None, seed: int = 0) -> TrainConfig:
    """RelGAN-style settings: Adam 1e-4 for both networks, beta annealed from 1 to 100 over the whole run (`steps`,
    or the length `train_adversarial` plans when None)."""
    return TrainConfig(method="gumbel", loss=loss, g_lr=1e-4, d_lr=1e-4, beta_max=100.0, anneal_steps=steps, seed=seed)


def seqgan_paper(rollouts: int = 16, d_steps: int = 16, seed: int = 0) -> TrainConfig:
    """SeqGAN as published (Yu et al. 2017; LantaoYu/SeqGAN ``sequence_gan.py``): generator Adam 1e-2 (its
    ``learning_rate=0.01`` for pre-training and adversarial updates alike), gradients clipped at 5, 16 rollouts,
    discriminator Adam 1e-4, and after every generator step the discriminator trains on *fresh* negatives: 5 times,
    sample 10,000 new sequences and train 3 epochs on them against the 10,000 real ones (about 4,700 batches of 64).

    Scale stated: `d_steps` is the number of discriminator batches (real vs freshly sampled) per generator step;
    the default 16 is one epoch of a 1,000-sequence training set, 1/300 of SeqGAN's. Pre-train the discriminator
    first with `GANTrainer.pretrain_discriminator` (SeqGAN: 50 rounds x 3 epochs on fresh negatives)."""
    return TrainConfig(method="seqgan", rollouts=rollouts, g_lr=1e-2, d_lr=1e-4, d_steps=d_steps, seed=seed)


def relgan(loss: str = "rsgan", beta_max: float = 100.0, d_steps: int = 5, seed: int = 0) -> TrainConfig:
    """RelGAN (Nie et al. 2019, sec. 4 and TextGAN-PyTorch ``run_relgan.py``): Adam 1e-4 for generator and
    discriminator, the RSGAN loss, batch 64, the inverse temperature annealed exponentially from 1 to `beta_max`
    (the paper tries 1, 10, 100, 1000; 100 and 1000 do best on the oracle) over the run's actual length
    (`anneal_steps=None`: `train_adversarial` sets it). RelGAN makes 5 discriminator updates per generator update on
    its synthetic benchmark, the `d_steps` default here."""
    return TrainConfig(method="gumbel", loss=loss, g_lr=1e-4, d_lr=1e-4, d_steps=d_steps, beta_max=beta_max,
                       anneal_steps=None, seed=seed)


def seqgan_fast(rollouts: int = 4, d_steps: int = 4, seed: int = 0) -> TrainConfig:
    """SeqGAN's schedule (`seqgan_paper`) with a discriminator learning rate of 1e-3 instead of 1e-4, so that a
    CPU-sized run of tens of steps gets a discriminator clearly above chance: the smoke profile's stand-in."""
    return TrainConfig(method="seqgan", rollouts=rollouts, g_lr=1e-2, d_lr=1e-3, d_steps=d_steps, seed=seed)


def relgan_fast(loss: str = "rsgan", beta_max: float = 100.0, d_steps: int = 3, seed: int = 0) -> TrainConfig:
    """RelGAN's schedule (`relgan`) with both learning rates at 1e-3 instead of 1e-4: the smoke profile's stand-in
    for its thousands of steps."""
    return TrainConfig(method="gumbel", loss=loss, g_lr=1e-3, d_lr=1e-3, d_steps=d_steps, beta_max=beta_max,
                       anneal_steps=None, seed=seed)


# Named schedules: name -> function returning a TrainConfig (each one's docstring gives its source).
RECIPES: dict[str, Callable[..., TrainConfig]] = {
    "seqgan_paper": seqgan_paper,
    "relgan": relgan,
    "seqgan_fast": seqgan_fast,
    "relgan_fast": relgan_fast,
    "seqgan_kit_v1": seqgan_recipe,
}


def recipe(name: str, **overrides: Any) -> TrainConfig:
    """The named schedule `name` (see `RECIPES`), with keyword overrides of its arguments (e.g. ``seed=1``)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name](**overrides)
