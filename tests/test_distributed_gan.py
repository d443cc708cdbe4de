"""The text GAN in 2 processes (torchrun, gloo on the CPU) ends where one process with the same global batch ends;
only rank 0 writes; a run stopped in 2 processes resumes in 1. Run as a script, this file is the worker torchrun
starts.

Both runs draw their generated samples in the same 2 seeded shards (``--sample-shards 2``: one per process in the
2-process run, both in turn in the one-process run) and the discriminator has no dropout, so they make the same random
draws; what remains is float rounding: gloo averages two half-batch gradients where one process averages 32 rows.
Tolerances, from the measured differences (2e-5, 2e-6 and 1.4%):
- MLE (32 Adam steps at 1e-2) and the discriminator: every weight within 1e-4, while training moved them by > 1e-2.
- The SeqGAN generator: the policy gradient subtracts the batch's mean reward, so many of its components are sums
  that nearly cancel; Adam divides each by its own size, and rounding there becomes a step of up to the learning
  rate (1e-3). So the check is on the whole update: the difference between the runs is under 5% of how far 2 steps
  moved the generator (norms over all weights).
- The Gumbel GAN with WGAN-GP, 2 steps at Adam 1e-4 from untrained weights (no MLE): every weight within 1e-5
  (measured: 7e-7), while the steps moved the generator by 2e-4.
Without DDP's gradient all-reduce each process follows its own half-batch and the MLE weights differ by 0.5.
"""

import sys
from pathlib import Path

import pytest
import torch
from launching import announce_writes, torchrun

from heygen_lib.gan import training
from heygen_lib.gan.__main__ import main
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.oracle import SMOKE

ARGS = ["--profile", "smoke", "--mle-epochs", "1", "--d-pretrain-steps", "2", "--rollouts", "2",
        "--eval-samples", "100", "--eval-every", "2", "--batch-size", "32", "--sample-shards", "2", "--dropout", "0"]
TOLERANCE = 1e-4  # any single weight, MLE and discriminator
UPDATE_TOLERANCE = 0.05  # the SeqGAN generator: |two - one| / |one - after MLE|
GUMBEL_TOLERANCE = 1e-5  # any single weight after 2 WGAN-GP steps from untrained weights


def modules(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    return torch.load(path, weights_only=True)["modules"]


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[name] - b[name]).abs().max().item() for name in a)


def flat(weights: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([w.flatten().float() for w in weights.values()])


def assert_same_run(folder: Path, reference: Path) -> None:
    """`folder`'s checkpoints hold the weights of `reference`'s, within the tolerances above."""
    mle, mle_reference = modules(folder / "mle.pt"), modules(reference / "mle.pt")
    assert largest_difference(mle["generator"], mle_reference["generator"]) < TOLERANCE
    gan, gan_reference = modules(folder / "seqgan.pt"), modules(reference / "seqgan.pt")
    assert largest_difference(gan["discriminator"], gan_reference["discriminator"]) < TOLERANCE
    start, end = flat(mle_reference["generator"]), flat(gan_reference["generator"])
    moved = (end - start).norm().item()
    assert moved > 1e-2  # the adversarial steps did move the generator
    assert (flat(gan["generator"]) - end).norm().item() < UPDATE_TOLERANCE * moved


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """One artifacts folder for every run here: the oracle's cache is built once."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def one_process(artifacts):
    """The reference: 1 MLE epoch, 2 discriminator batches and 2 SeqGAN steps in this process, batch 32."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEYGEN_ARTIFACTS_DIR", str(artifacts))
        assert main([*ARGS, "--steps", "2", "--output", str(artifacts / "one")]) == 0
    return artifacts / "one"


def test_two_processes_match_one_with_the_same_global_batch_and_only_rank_0_writes(one_process, artifacts):
    done = torchrun(__file__, [*ARGS, "--steps", "2", "--output", str(artifacts / "two")], artifacts)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_run(artifacts / "two", one_process)
    assert largest_difference(modules(one_process / "mle.pt")["generator"], untrained_generator()) > 100 * TOLERANCE
    assert "2 processes, 16 rows each per update" in done.stdout
    assert done.stdout.count("after seqgan") == 1  # one summary, from rank 0
    writes = [line for line in done.stdout.splitlines() if line.startswith("checkpoint written by rank")]
    assert writes == ["checkpoint written by rank 0: mle.pt", "checkpoint written by rank 0: seqgan.pt"]
    assert sorted(p.name for p in (artifacts / "two").iterdir()) == ["mle.pt", "seqgan.pt"]


def test_a_run_stopped_in_two_processes_resumes_in_one_and_ends_where_one_process_ends(one_process, artifacts):
    folder = artifacts / "resumed"
    stopped = torchrun(__file__, [*ARGS, "--steps", "1", "--output", str(folder)], artifacts)
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert torch.load(folder / "seqgan.pt", weights_only=True)["steps"]["adversarial"] == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEYGEN_ARTIFACTS_DIR", str(artifacts))
        assert main([*ARGS, "--steps", "2", "--resume", "--output", str(folder)]) == 0
    state = torch.load(folder / "seqgan.pt", weights_only=True)
    assert state["steps"]["adversarial"] == 2 and state["sample_draws"] > 0
    assert_same_run(folder, one_process)


def test_the_gumbel_gan_with_a_gradient_penalty_matches_one_process_too(artifacts):
    """WGAN-GP: relaxed samples through the generator's DDP wrap, and a penalty whose interpolation weights are drawn
    per shard and whose second-order gradients DDP averages with the rest."""
    args = [*ARGS, "--method", "gumbel", "--loss", "wgan-gp", "--mle-epochs", "0", "--steps", "2"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEYGEN_ARTIFACTS_DIR", str(artifacts))
        assert main([*args, "--output", str(artifacts / "gumbel-one")]) == 0
    done = torchrun(__file__, [*args, "--output", str(artifacts / "gumbel-two")], artifacts)
    assert done.returncode == 0, done.stderr[-2000:]
    one, two = (modules(artifacts / name / "gumbel-wgan-gp.pt") for name in ("gumbel-one", "gumbel-two"))
    for network in ("generator", "discriminator"):
        assert largest_difference(one[network], two[network]) < GUMBEL_TOLERANCE
    assert largest_difference(one["generator"], untrained_generator()) > 10 * GUMBEL_TOLERANCE  # 2 steps of 1e-4


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "33"], "a batch of 33 rows does not split evenly over 2 processes: choose a multiple of 2"),
    (["--sample-shards", "1"], "--sample-shards 1 must divide --batch-size 32 and be a multiple of the 2 processes"),
    (["--sample-shards", "6"], "--sample-shards 6 must divide --batch-size 32 and be a multiple of the 2 processes"),
])
def test_a_batch_or_shard_count_that_does_not_split_is_one_line_of_error(monkeypatch, capsys, flags, message):
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun tells each of 2 processes; refused before it matters
    assert main([*ARGS, *flags]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def untrained_generator() -> dict[str, torch.Tensor]:
    """The weights both runs start from: the CLI seeds with --seed (0) before building the oracle-sized generator."""
    torch.manual_seed(0)
    return LSTMGenerator(LSTMGeneratorConfig(vocab_size=SMOKE.vocab_size, max_len=SMOKE.max_len,
                                             start_token=SMOKE.start_token)).state_dict()


if __name__ == "__main__":
    announce_writes(training)
    sys.exit(main(sys.argv[1:]))
