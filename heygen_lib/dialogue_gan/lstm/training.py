"""Training the dialogue GAN: MLE pre-training, the pair discriminator, and adversarial REINFORCE (Li et al. 2017).

`DialogueGANTrainer` holds both networks, the training pairs and the optimisers. Each phase is a method that does
one unit of work and returns a record (a dict of numbers), so a notebook cell, a widget callback and a script call
the same code; every record goes to `history` and to the callback you pass (e.g. `heygen_lib.widgets.LivePlot`).

Adversarial training follows "Adversarial Learning for Neural Dialogue Generation" (Li et al. 2017), in its
whole-response form:

1. sample a response to each context of a batch from the generator;
2. reward = the discriminator's probability that (context, sampled response) is a real pair;
3. REINFORCE: raise the log-probability of responses whose reward beats a baseline, lower the others:
   ``loss = -(reward - b) * sum_t log p(y_t | x, y_<t)``, with b a moving average of past rewards (it lowers the
   variance of the gradient without biasing it, because b does not depend on the current sample);
4. teacher forcing: add ``teacher_forcing * NLL`` of real responses to the same update. Li et al. found pure
   REINFORCE unstable (the generator only ever sees its own samples, so one bad streak derails it) and interleave
   a teacher-forcing update on human responses after each policy update; the kit adds the two losses instead,
   weighted ``reward_weight`` and ``teacher_forcing``: the mix is two knobs. ``reward_weight=0`` keeps every
   teacher-forcing update and drops the reward, the control that tells what the reward itself did;
5. `d_steps` discriminator updates on real pairs against the negatives of `negatives.NegativeMix`.

Li et al. also credit each token separately with Monte-Carlo rollouts (their REGS); the kit's unconditional
version of that is `heygen_lib.gan.rewards`, and this trainer keeps the whole-response reward.

`save` writes weights, optimiser states, counters, random states, the baseline and the history; `load` resumes.
Checkpoints hold only tensors and plain values and load with ``torch.load(weights_only=True)``; their layout and
the guarded update step are shared with the other adversarial trainers (`heygen_lib.adversarial_state`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import trange

from heygen_lib.adversarial_state import check_finite, guarded_update, restore_trainer_state, save_trainer
from heygen_lib.dialogue_gan.data import PAD_ID, EncodedPairs
from heygen_lib.dialogue_gan.lstm.discriminator import PairDiscriminator
from heygen_lib.dialogue_gan.lstm.evaluation import nll
from heygen_lib.dialogue_gan.lstm.generator import Seq2SeqGenerator
from heygen_lib.dialogue_gan.negatives import KINDS, NegativeMix, mismatched_indices, reversed_responses
from heygen_lib.gan.text_data import Vocabulary
from heygen_lib.torch_utils import eval_mode

Record = dict[str, float | int | str]


@dataclass
class DialogueGANConfig:
    """How the dialogue GAN trains. Defaults: Adam everywhere; the adversarial generator learns thirty times slower
    than in MLE pre-training (policy gradients are noisy, and it starts from a good model)."""

    batch_size: int = 32
    mle_lr: float = 3e-3  # teacher-forcing pre-training of the generator
    g_lr: float = 1e-4  # adversarial generator updates
    d_lr: float = 1e-3  # discriminator, in pre-training and adversarial training
    clip: float = 5.0  # gradient-norm clipping, every update
    temperature: float = 1.0  # sampling temperature of the generator's responses (policy and generated negatives)
    baseline_decay: float = 0.9  # moving-average baseline: b <- decay * b + (1 - decay) * mean reward
    # Each adversarial update minimises reward_weight * REINFORCE loss + teacher_forcing * NLL of real responses.
    reward_weight: float = 1.0  # 0 turns the reward off: the teacher-forcing-only control of the comparison
    teacher_forcing: float = 1.0  # 0 is pure REINFORCE (Li et al.: unstable)
    d_steps: int = 1  # discriminator updates per adversarial step (0: the discriminator stays as it is)
    negatives: NegativeMix = field(default_factory=NegativeMix)  # shares of generated / mismatched / reversed
    reversal: str = "word"  # reversed negatives: "word" (words within sentences) or "sentence" (sentence order)
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.negatives, dict):  # as stored in a checkpoint
            self.negatives = NegativeMix(**self.negatives)
        if min(self.reward_weight, self.teacher_forcing, self.d_steps) < 0 or not 0 <= self.baseline_decay < 1:
            raise ValueError("need reward_weight, teacher_forcing, d_steps >= 0 and 0 <= baseline_decay < 1, got "
                             f"{self.reward_weight}, {self.teacher_forcing}, {self.d_steps} and {self.baseline_decay}")


def reinforce_loss(log_probs: torch.Tensor, rewards: torch.Tensor, baseline: float | torch.Tensor) -> torch.Tensor:
    """REINFORCE with a baseline: ``-mean_b (reward_b - baseline) * sum_t log_probs[b, t]``.

    log_probs [B, T]: the log-probability of each sampled token (0 after <eos>), with gradients; rewards [B].
    The advantage ``reward - baseline`` is a constant: gradient descent on this loss raises the log-probability of
    samples rewarded above the baseline and lowers it for those below.
    """
    advantage = (rewards - baseline).detach().to(log_probs.dtype)
    return -(advantage * log_probs.sum(dim=1)).mean()


def moving_average(previous: float | None, value: float, decay: float) -> float:
    """``decay * previous + (1 - decay) * value``; the first value starts the average."""
    return value if previous is None else decay * previous + (1 - decay) * value


class DialogueGANTrainer:
    """Trains a `Seq2SeqGenerator` against a `PairDiscriminator` on encoded training pairs.

    `dev` (optional) adds the generator's held-out NLL to every MLE record.
    """

    def __init__(
        self,
        generator: Seq2SeqGenerator,
        discriminator: PairDiscriminator,
        train: EncodedPairs,
        vocab: Vocabulary,
        config: DialogueGANConfig = DialogueGANConfig(),
        dev: EncodedPairs | None = None,
        callback: Callable[[Record], None] | None = None,
    ):
        self.generator, self.discriminator, self.config = generator, discriminator, config
        self.train, self.dev, self.callback = train, dev, callback
        self.device = generator.device
        discriminator.to(self.device)
        reversal = reversed_responses([p.response.text for p in train.pairs], vocab, train.responses.size(1),
                                      config.reversal)
        self.reversed, self.reversal_counts = reversal.responses, reversal.counts
        self.reversible = torch.nonzero(reversal.available)[:, 0]  # rows that have a reversed negative
        if config.negatives.reversed > 0 and not len(self.reversible):
            raise ValueError("no training response can be reversed: set NegativeMix(reversed=0)")
        self.data_rng = torch.Generator().manual_seed(config.seed)
        self.sample_rng = torch.Generator(device=self.device).manual_seed(config.seed)
        self.optimizers = {
            "mle": torch.optim.Adam(generator.parameters(), lr=config.mle_lr),
            "generator": torch.optim.Adam(generator.parameters(), lr=config.g_lr),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=config.d_lr),
        }
        self.steps = {"mle": 0, "discriminator": 0, "adversarial": 0}
        self.baseline: float | None = None
        self.history: list[Record] = []

    # --- plumbing -------------------------------------------------------------------------------------------

    def _rows(self, n: int | None = None, among: torch.Tensor | None = None) -> torch.Tensor:
        n = n or self.config.batch_size
        if among is None:
            return torch.randint(len(self.train), (n,), generator=self.data_rng)
        return among[torch.randint(len(among), (n,), generator=self.data_rng)]

    def _update(self, optimizer: str, loss: torch.Tensor, module: nn.Module) -> None:
        guarded_update(self.optimizers[optimizer], loss, module.parameters(), self.config.clip, optimizer,
                       f"steps {self.steps}")

    def _check(self, phase: str, **values: float) -> None:
        check_finite(phase, f"steps {self.steps}", **values)

    def _record(self, phase: str, **values: float) -> Record:
        self._check(phase, **values)
        self.steps[phase] += 1
        record: Record = {"phase": phase, "step": self.steps[phase], **values}
        self.history.append(record)
        if self.callback is not None:
            self.callback(record)
        return record

    @torch.no_grad()
    def _generate(self, rows: torch.Tensor) -> torch.Tensor:
        contexts, lengths, _ = self.train.batch(rows, self.device)
        with eval_mode(self.generator):
            ids, _ = self.generator.sample(contexts, lengths, self.config.temperature, generator=self.sample_rng)
        return ids

    # --- phases ---------------------------------------------------------------------------------------------

    def mle_epoch(self) -> Record:
        """One pass of teacher forcing over the training pairs in shuffled batches: mean NLL per token (and on dev)."""
        self.generator.train()
        order = torch.randperm(len(self.train), generator=self.data_rng)
        total = 0.0
        for rows in order.split(self.config.batch_size):
            loss = self.generator.nll(*self.train.batch(rows, self.device)).mean()
            self._update("mle", loss, self.generator)
            total += loss.item() * len(rows)
        extra = {"dev_nll": nll(self.generator, self.dev)} if self.dev is not None else {}
        return self._record("mle", nll=total / len(self.train), **extra)

    def negatives(self, n: int) -> dict[str, tuple[torch.Tensor, ...]]:
        """`n` negative pairs split by `config.negatives`: kind -> (contexts, context_lengths, responses)."""
        out = {}
        for kind, count in self.config.negatives.counts(n).items():
            if count == 0:
                continue
            if kind == "generated":
                rows = self._rows(count)
                contexts, lengths, _ = self.train.batch(rows, self.device)
                responses = self._generate(rows)
            elif kind == "mismatched":
                rows = self._rows(count)
                others = mismatched_indices(self.train.dialogue_ids, rows, self.data_rng)
                contexts, lengths, _ = self.train.batch(rows, self.device)
                responses = self.train.responses[others].to(self.device)
            else:
                rows = self._rows(count, among=self.reversible)
                contexts, lengths, _ = self.train.batch(rows, self.device)
                responses = self.reversed[rows].to(self.device)
            out[kind] = (contexts, lengths, responses)
        return out

    def discriminator_step(self) -> Record:
        """One discriminator update: a batch of real pairs (label 1) against as many negatives (label 0). Records the
        loss and the accuracy on each kind (real: share judged real; a negative kind: share judged fake)."""
        real = self.train.batch(self._rows(), self.device)
        groups = {"real": real, **self.negatives(len(real[0]))}
        self.discriminator.train()
        every = [torch.cat(parts) for parts in zip(*groups.values())]  # one forward pass over all groups
        all_logits = self.discriminator(*every)
        labels = torch.cat([torch.full((len(batch[0]),), float(kind == "real")) for kind, batch in groups.items()])
        loss = F.binary_cross_entropy_with_logits(all_logits, labels.to(all_logits.device))
        self._update("discriminator", loss, self.discriminator)
        logits = dict(zip(groups, all_logits.detach().split([len(batch[0]) for batch in groups.values()])))
        accuracy = {f"acc_{kind}": ((v > 0) == (kind == "real")).float().mean().item() for kind, v in logits.items()}
        negatives = [accuracy[f"acc_{k}"] for k in KINDS if f"acc_{k}" in accuracy]
        overall = (accuracy["acc_real"] + sum(negatives) / len(negatives)) / 2
        return self._record("discriminator", loss=loss.item(), accuracy=overall, **accuracy)

    def adversarial_step(self) -> Record:
        """One REINFORCE update of the generator (with teacher forcing mixed in), then `d_steps` discriminator
        updates. Records the mean reward, the baseline it was compared with, the losses, and the last
        discriminator step's accuracies (prefixed ``d_``)."""
        rows = self._rows()
        contexts, lengths, responses = self.train.batch(rows, self.device)
        with eval_mode(self.generator):  # the policy without dropout: the one that will write the export
            ids, log_probs = self.generator.sample(contexts, lengths, self.config.temperature,
                                                   generator=self.sample_rng)
        rewards = self.discriminator.probability(contexts, lengths, ids).to(self.device)
        baseline = self.baseline if self.baseline is not None else rewards.mean().item()
        policy_loss = reinforce_loss(log_probs, rewards, baseline)
        self.generator.train()
        teacher_nll = self.generator.nll(contexts, lengths, responses).mean()
        loss = self.config.reward_weight * policy_loss + self.config.teacher_forcing * teacher_nll
        self._update("generator", loss, self.generator)
        self.baseline = moving_average(self.baseline, rewards.mean().item(), self.config.baseline_decay)
        values: dict[str, float] = {
            "reward": rewards.mean().item(), "baseline": baseline, "policy_loss": policy_loss.item(),
            "teacher_nll": teacher_nll.item(), "length": (ids != PAD_ID).sum(dim=1).float().mean().item(),
        }
        for _ in range(self.config.d_steps):
            d_record = self.discriminator_step()
            values |= {f"d_{k}": v for k, v in d_record.items() if k not in ("phase", "step")}
        return self._record("adversarial", **values)

    # --- checkpoints ----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Everything needed to resume, in one file of tensors and plain values (atomic write; the layout all
        adversarial trainers share, `heygen_lib.adversarial_state`)."""
        return save_trainer(path, self.config, *self._parts(), steps=dict(self.steps), baseline=self.baseline,
                            history=self.history)

    def load(self, path: str | Path) -> DialogueGANTrainer:
        """Restore a checkpoint written by `save` into this trainer (same model shapes and config)."""
        state = restore_trainer_state(path, self.device, self.config, *self._parts())
        self.steps, self.history, self.baseline = dict(state["steps"]), list(state["history"]), state["baseline"]
        return self

    def _parts(self):
        return ({"generator": self.generator, "discriminator": self.discriminator}, self.optimizers,
                {"data_rng": self.data_rng, "sample_rng": self.sample_rng})


def train_mle(trainer: DialogueGANTrainer, epochs: int, patience: int | None = None) -> list[Record]:
    """Up to `epochs` MLE epochs with a progress bar. With a dev set and a `patience`, stop once the dev NLL has not
    improved for `patience` epochs and put back the generator weights of the best epoch (early stopping): on a
    few hundred pairs a generator starts memorising within a few epochs."""
    records: list[Record] = []
    best, best_state = math.inf, None
    for _ in trange(epochs, desc="MLE epochs", leave=False):
        records.append(trainer.mle_epoch())
        if patience is None or trainer.dev is None:
            continue
        if records[-1]["dev_nll"] < best:
            best, best_epoch = float(records[-1]["dev_nll"]), len(records)
            best_state = {k: v.detach().clone() for k, v in trainer.generator.state_dict().items()}
        elif len(records) - best_epoch >= patience:
            break
    if best_state is not None:
        trainer.generator.load_state_dict(best_state)
    return records


def pretrain_discriminator(trainer: DialogueGANTrainer, steps: int) -> list[Record]:
    """`steps` discriminator updates against the current generator, with a progress bar."""
    return [trainer.discriminator_step() for _ in trange(steps, desc="discriminator steps", leave=False)]


def train_adversarial(trainer: DialogueGANTrainer, steps: int, checkpoint: str | Path | None = None) -> list[Record]:
    """`steps` adversarial steps with a progress bar; saves a checkpoint at the end when `checkpoint` names a file."""
    records = [trainer.adversarial_step() for _ in trange(steps, desc="adversarial steps", leave=False)]
    if checkpoint is not None:
        trainer.save(checkpoint)
    return records
