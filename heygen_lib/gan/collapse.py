"""Mode collapse, flagged from diversity and coverage together, each against its own measured noise.

A generator that collapses onto what its discriminator likes shows it in two places at once: its samples repeat
each other more (distinct-n down, Self-BLEU up, fewer unique samples) and it covers less of the real language
(NLL_test up). Either alone has an innocent reading (a sharper but still covering model; a test set that happens
to be hard), so a row is flagged when coverage *and* at least one diversity number moved towards collapse, each by
more than `k` standard deviations of its own noise: the diversity numbers' noise over repeated evaluations of the
reference's weights, NLL_test's over the test sequences (`evaluation.nll_test_noise`). A fixed share such as "down
by 10%" ignores how much a number wobbles at this sample size: too strict for one, too loose for another.

A flagged row is never ranked: its lower NLL_oracle or higher BLEU was bought with diversity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from heygen_lib.gan.evaluation import NOT_FLAGGED, nll_test_noise
from heygen_lib.gan.generators import TextGenerator

# Each diversity number's direction towards collapse: -1 if it falls, +1 if it rises.
TOWARDS_COLLAPSE = {"distinct-2": -1, "distinct-3": -1, "unique": -1, "self-BLEU-4": +1}


@dataclass
class CollapseCheck:
    """The reference (MLE) a generator is checked against: its mean numbers over repeated evaluations (`reference`:
    metric -> mean), their standard deviations (`noise`: metric -> std, the same evaluations), its generator and
    the test data for the paired NLL_test noise. `coverage` names the NLL_test value in the rows checked."""

    reference: Mapping[str, float]
    noise: Mapping[str, float]
    reference_generator: TextGenerator
    test_data: torch.Tensor
    k: float = 3.0  # standard deviations a number must move to count, as for every comparison in the kit
    coverage: str = "nll_test"
    pad_id: int | None = None  # padding left out of the NLL_test noise (real text)

    @classmethod
    def from_noise(cls, noise: Mapping[str, tuple[float, float]], generator: TextGenerator, test_data: torch.Tensor,
                   coverage: str = "nll_test", coverage_value: float | None = None, **options) -> CollapseCheck:
        """From `evaluation.evaluation_noise`'s (mean, std) per metric of the reference `generator`; give
        `coverage_value` when its metrics do not hold the NLL_test (real text: `nll_per_token`)."""
        reference = {key: mean for key, (mean, _) in noise.items()}
        if coverage_value is not None:
            reference[coverage] = coverage_value
        return cls(reference, {key: std for key, (_, std) in noise.items()}, generator, test_data,
                   coverage=coverage, **options)

    def coverage_noise(self, generator: TextGenerator) -> float:
        """NLL_test's noise for `generator` against the reference (`evaluation.nll_test_noise`)."""
        return nll_test_noise(generator, self.reference_generator, self.test_data, self.pad_id)

    def moves(self, generator: TextGenerator, values: Mapping[str, float], coverage_std: float | None = None
              ) -> dict[str, tuple[float, float]]:
        """Each checked number's move from the reference: (in its own units, in std towards collapse, positive
        towards it), NLL_test first (its noise `coverage_std` when the caller measured it, `coverage_noise`). A
        diversity number whose repeats never varied (e.g. "unique" at 1.0 when no sample repeats) has no noise to
        scale a threshold by and is left out."""
        if coverage_std is None:
            coverage_std = self.coverage_noise(generator)
        stds = {self.coverage: (+1, coverage_std)}
        stds |= {key: (sign, self.noise[key]) for key, sign in TOWARDS_COLLAPSE.items()
                 if key in values and self.noise.get(key, 0.0) > 0}
        out = {}
        for key, (sign, std) in stds.items():
            delta = values[key] - self.reference[key]
            unscaled = math.copysign(math.inf, sign * delta) if delta else 0.0  # std 0: any move is beyond it
            out[key] = (delta, sign * delta / std if std > 0 else unscaled)
        return out

    def flag(self, generator: TextGenerator, values: Mapping[str, float], coverage_std: float | None = None) -> str:
        """`NOT_FLAGGED` when not collapsed; else the moves that flag it, e.g. "nll_test +0.044 (9.1 std),
        distinct-3 -0.078 (23.0 std)" (std counted towards collapse; `coverage_std` as in `moves`)."""
        moves = self.moves(generator, values, coverage_std)
        beyond = {key: move for key, move in moves.items() if move[1] > self.k}
        if self.coverage not in beyond or len(beyond) < 2:
            return NOT_FLAGGED
        return ", ".join(f"{key} {delta:+.3f} ({z:.1f} std)" for key, (delta, z) in beyond.items())

    def thresholds(self) -> list[dict[str, str | float]]:
        """The flag's thresholds as table rows: metric, direction towards collapse, noise std, flag beyond."""
        rows: list[dict[str, str | float]] = [{
            "metric": self.coverage, "towards collapse": "up", "noise std": "per row (paired, over test sequences)",
            "flag beyond": f"{self.k:g} std"}]
        for key, sign in TOWARDS_COLLAPSE.items():
            if key in self.noise:
                std = self.noise[key]
                rows.append({"metric": key, "towards collapse": "down" if sign < 0 else "up", "noise std": std,
                             "flag beyond": self.k * std if std > 0 else "not used (no noise measured)"})
        return rows
