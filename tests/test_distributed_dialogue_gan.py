"""The LM dialogue GAN's adversarial step in 2 processes (torchrun, gloo on the CPU) ends where one process with the
same global batch ends; only rank 0 writes; a run stopped in 2 processes resumes in 1. Run as a script, this file is
the worker torchrun starts.

Both runs draw 4 contexts per step in the same 2 seeded shards (``sample_shards=2``: one per process in the
2-process run, both in turn in the one-process run), so they sample the same responses, give them the same rewards
and baselines, and draw the same discriminator batches and dropout masks. What remains is float rounding: gloo
averages two half-batch gradients where one process sums the whole batch, and Adam divides each update by the
gradient's own size, so the last bits of a small gradient become bits of a step. Measured after 2 steps: the policies
differ by at most 6e-7 in any weight, the discriminators by 7e-9. The check allows any single weight 1e-5 (16 times
the measured rounding); without DDP's gradient all-reduce (each process following its own half-batch) both networks
differ by 4e-3, 400 times the tolerance, and the 2 steps move the policy by more than 100 times it.
"""

import sys
from pathlib import Path

import pytest
import torch
from launching import announce_writes, torchrun
from transformers import AutoModelForCausalLM, AutoTokenizer

from heygen_lib import distributed
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan import lm_training
from heygen_lib.dialogue_gan.feature_discriminator import LMPairFeatures, featurize, fit_discriminator, labelled_pairs
from heygen_lib.dialogue_gan.lm_training import AdversarialLMConfig, AdversarialLMTrainer, train_adversarial_lm

TOLERANCE = 1e-5  # any single weight of the policy or the discriminator, after 2 steps
CONFIG = AdversarialLMConfig(contexts_per_step=4, samples_per_context=2, max_prompt=24, max_new_tokens=6, lr=1e-3,
                             d_lr=1e-3, teacher_forcing=0.5, sample_shards=2)
EXCHANGES = [("where is my parcel", "it ships today, thanks"), ("my order is late", "sorry, what is the order number?"),
             ("can i return it", "yes, within 30 days"), ("the box was empty", "sorry! we will send another one")]


def pairs() -> list[Pair]:
    return [Pair((Turn("customer", c),), Turn("agent", r), f"d{i}", "test", 1)
            for i, (c, r) in enumerate(EXCHANGES * 2)]


def trainer(folder: str | Path) -> AdversarialLMTrainer:
    """The same trainer in every process: the tiny model from `folder` as policy and reference, and a discriminator
    fitted (seeded) on its features of real pairs against reversed responses."""
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    reference = AutoModelForCausalLM.from_pretrained(folder).eval()
    train = pairs()
    features = featurize(LMPairFeatures(reference, tokenizer, CONFIG.max_prompt, CONFIG.max_new_tokens),
                         labelled_pairs(train, [p.response.text[::-1] for p in train]))
    discriminator, _ = fit_discriminator(features, steps=5)
    fixed = {kind: rows for kind, rows in features.items() if kind != "generated"}
    return AdversarialLMTrainer(AutoModelForCausalLM.from_pretrained(folder), reference, tokenizer, discriminator,
                                train, fixed, CONFIG)


def run(folder: str | Path, steps: int, checkpoint: Path, resume: bool = False) -> None:
    """Train to `steps` steps in all (continuing `checkpoint` when `resume`), saving it at the end."""
    trained = trainer(folder)
    if resume:
        trained.load(checkpoint)
    train_adversarial_lm(trained, steps - trained.steps, checkpoint, progress=False)


def modules(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    return torch.load(path, weights_only=True)["modules"]


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[name].float() - b[name].float()).abs().max().item() for name in a)


def assert_same_run(path: Path, reference: Path) -> None:
    got, want = modules(path), modules(reference)
    for network in ("policy", "discriminator"):
        assert largest_difference(got[network], want[network]) < TOLERANCE, network


@pytest.fixture(scope="module")
def one_process(chat_model_folder, tmp_path_factory):
    """The reference: 2 adversarial steps in this process, both shards in turn."""
    path = tmp_path_factory.mktemp("one") / "run.pt"
    run(chat_model_folder, 2, path)
    return path


def test_two_processes_match_one_with_the_same_global_batch_and_only_rank_0_writes(chat_model_folder, one_process,
                                                                                    tmp_path):
    path = tmp_path / "two" / "run.pt"
    done = torchrun(__file__, [str(chat_model_folder), "2", str(path)], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_run(path, one_process)
    start = AutoModelForCausalLM.from_pretrained(chat_model_folder).state_dict()
    moved = largest_difference({k: v for k, v in start.items() if k in modules(one_process)["policy"]},
                               modules(one_process)["policy"])
    assert moved > 100 * TOLERANCE  # 2 steps at 1e-3 moved the policy
    writes = [line for line in done.stdout.splitlines() if line.startswith("checkpoint written by rank")]
    assert writes == ["checkpoint written by rank 0: run.pt"]
    assert [p.name for p in path.parent.iterdir()] == ["run.pt"]
    state = torch.load(path, weights_only=True)
    assert state["steps"] == 2 and len(state["history"]) == 2


def test_a_run_stopped_in_two_processes_resumes_in_one_and_ends_where_one_process_ends(chat_model_folder,
                                                                                       one_process, tmp_path):
    path = tmp_path / "run.pt"
    stopped = torchrun(__file__, [str(chat_model_folder), "1", str(path)], tmp_path)
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert torch.load(path, weights_only=True)["steps"] == 1
    run(chat_model_folder, 2, path, resume=True)
    assert_same_run(path, one_process)


def test_a_shard_count_the_processes_do_not_split_is_refused(chat_model_folder, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")  # what torchrun tells each of 4 processes; refused before it matters
    with pytest.raises(ValueError, match="sample_shards 2 must be a multiple of the 4 processes"):
        trainer(chat_model_folder)
    with pytest.raises(ValueError, match="sample_shards 3 must divide contexts_per_step 4"):
        AdversarialLMConfig(contexts_per_step=4, sample_shards=3)


if __name__ == "__main__":
    distributed.init("gloo")
    announce_writes(lm_training)
    folder, steps, checkpoint = sys.argv[1:]
    run(folder, int(steps), Path(checkpoint), resume=Path(checkpoint).is_file())
