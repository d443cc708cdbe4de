"""Fine-tuning in 2 processes (torchrun, gloo on the CPU) ends where one process with the same global batch ends;
only rank 0 writes; an interrupted run resumes. Run as a script, this file is the worker torchrun starts."""

import os
import sys
from pathlib import Path

import pytest
import torch
from launching import torchrun as launch
from safetensors.torch import load_file

from heygen_lib.nlg.__main__ import main

# the untrained tiny GPT-2 on 82 training rows of the support set, batch 4 (2 rows per process), 4 steps, an evaluation
# and checkpoint every 2; no dropout, so both runs draw nothing at random after the shared seed
ARGS = ["--profile", "smoke", "--model", "tiny", "--limit", "40", "--max-steps", "4", "--batch-size", "4",
        "--max-length", "64", "--evals-per-epoch", "10", "--dropout", "0", "--no-progress"]
# gloo sums the two processes' gradients in another order than one process adds its rows: float rounding, no more
TOLERANCE = 1e-4
STOP_AFTER = "HEYGEN_TEST_STOP_AFTER_STEP"  # the worker dies right after saving this step's checkpoint


def torchrun(args, artifacts: Path):
    return launch(__file__, args, artifacts)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[name] - b[name]).abs().max().item() for name in a)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The reference: the same command in this process, batch 4 in one piece."""
    folder = tmp_path_factory.mktemp("one")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEYGEN_ARTIFACTS_DIR", str(folder))
        assert main([*ARGS, "--report-to", "none", "--output", str(folder / "model")]) == 0
    return weights(folder / "model")


def test_two_processes_match_one_with_the_same_global_batch_and_only_rank_0_writes(one_process, tmp_path):
    untrained = tmp_path / "nlg" / "tiny-base"
    done = torchrun([*ARGS, "--output", str(tmp_path / "model")], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    two = weights(tmp_path / "model")
    assert largest_difference(two, one_process) < TOLERANCE
    assert largest_difference(two, weights(untrained)) > 10 * TOLERANCE  # training moved the weights (0.002 measured)
    assert "2 processes, 2 rows each per forward pass" in done.stdout
    assert done.stdout.count("4 of 4 steps") == 1  # one summary, from rank 0
    events = list((tmp_path / "nlg" / "runs" / "cli").rglob("events.out.tfevents.*"))
    assert len(events) == 1  # one TensorBoard log, rank 0's
    assert not list((tmp_path / "nlg" / "runs" / "cli").glob("checkpoint-*"))  # removed once, by rank 0


def test_an_interrupted_two_process_run_resumes_and_ends_where_one_process_ends(one_process, tmp_path):
    run_dir = tmp_path / "run"
    args = [*ARGS, "--report-to", "none", "--resume", "--run-dir", str(run_dir), "--output", str(tmp_path / "model")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STOP_AFTER, "2")
        killed = torchrun(args, tmp_path)
    assert killed.returncode != 0 and not (tmp_path / "model").exists()
    checkpoint = run_dir / "checkpoint-2"
    # a full checkpoint: model, optimizer and scheduler once (rank 0), a random state per process
    saved = {p.name for p in checkpoint.iterdir()}
    assert {"model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state_0.pth", "rng_state_1.pth"} <= saved
    resumed = torchrun(args, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count("4 of 4 steps") == 1
    assert largest_difference(weights(tmp_path / "model"), one_process) < TOLERANCE


def test_a_batch_that_does_not_split_over_the_processes_is_one_line_of_error(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun tells each of 2 processes; refused before it matters
    assert main([*ARGS, "--batch-size", "5"]) == 2
    error = capsys.readouterr().err
    assert error == "error: a batch of 5 rows does not split evenly over 2 processes: choose a multiple of 2\n"


def _stop_after(step: int):
    """A TrainerCallback that ends every process right after the checkpoint of `step` is on disk, as a kill would."""
    from transformers import TrainerCallback

    from heygen_lib import distributed

    class StopAfter(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == step:
                distributed.wait_for_everyone()
                os._exit(3)

    return StopAfter()


if __name__ == "__main__":
    stop = os.environ.get(STOP_AFTER)
    sys.exit(main(sys.argv[1:], callbacks=[_stop_after(int(stop))] if stop else []))
