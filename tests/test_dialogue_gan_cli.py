"""``python -m heygen_lib.dialogue_gan``: the profile's sizes with the flags' overrides go to the pipeline notebook 04
runs, and ordinary mistakes are one line of error. (The pipeline itself takes minutes at smoke size; its steps are
tested in test_dialogue_gan_lm_*.py.)"""

import subprocess
import sys
from pathlib import Path

import pytest

from heygen_lib.dialogue_gan import lm_pipeline
from heygen_lib.dialogue_gan.__main__ import main
from heygen_lib.profile import PROFILES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def built(monkeypatch, tmp_path):
    """Stands in for the pipeline: records what it was asked to build. The base models the tests name are folders
    of the working directory (a --model is checked before the work starts)."""
    calls = []
    monkeypatch.chdir(tmp_path)
    for name in ("some-folder", "m"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")

    def build(sizes, base, seed=0, progress=False, sample_shards=1):
        calls.append({"sizes": sizes, "base": base, "seed": seed, "sample_shards": sample_shards})
        return tmp_path / "reviewed_pairs.jsonl"

    monkeypatch.setattr(lm_pipeline, "build_reviewed_export", build)
    return calls


def test_the_profile_sizes_reach_the_pipeline_with_the_flags_overrides(built, capsys):
    assert main(["--profile", "smoke", "--model", "some-folder", "--steps", "3", "--keep", "5", "--seed", "7"]) == 0
    [call] = built
    expected = PROFILES["smoke"].dialogue_gan
    assert call["sizes"].lm_adversarial_steps == 3 and call["sizes"].lm_keep == 5
    assert call["sizes"].lm_candidates == expected.lm_candidates and call["sizes"].d_fit_steps == expected.d_fit_steps
    assert call["base"] == "some-folder" and call["seed"] == 7 and call["sample_shards"] == 1
    assert "reviewed pairs for notebook 05:" in capsys.readouterr().out


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "--steps must be positive, got 0"),
    (["--keep", "50", "--candidates", "20"], "--keep 50 is more than the 20 candidates generated"),
])
def test_a_value_that_cannot_run_is_one_line_of_error(built, capsys, flags, message):
    assert main(["--profile", "smoke", "--model", "m", *flags]) == 2
    assert capsys.readouterr().err == f"error: {message}\n" and not built


@pytest.mark.parametrize("flags, shards", [([], 2), (["--sample-shards", "6"], 6)])
def test_under_torchrun_each_process_takes_its_shards_of_the_contexts(built, monkeypatch, capsys, flags, shards):
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun tells each of 2 processes
    monkeypatch.setattr("heygen_lib.distributed.init", lambda backend=None: None)  # no process group in this test
    assert main(["--profile", "smoke", "--model", "m", *flags]) == 0
    assert built[0]["sample_shards"] == shards  # smoke: 6 contexts per step
    assert f"2 processes: 6 contexts per adversarial step in {shards} seeded shards, 3 contexts each" in \
        capsys.readouterr().out


@pytest.mark.parametrize("shards", ["3", "4"])
def test_a_shard_count_the_processes_or_contexts_do_not_split_is_one_line_of_error(built, monkeypatch, capsys,
                                                                                  shards):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["--profile", "smoke", "--model", "m", "--sample-shards", shards]) == 2
    assert capsys.readouterr().err == (f"error: --sample-shards {shards} must be a multiple of the 2 processes and "
                                       "divide the 6 contexts per step\n") and not built


def test_help_names_the_overrides_and_says_what_is_data_parallel():
    done = subprocess.run([sys.executable, "-m", "heygen_lib.dialogue_gan", "--help"], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=120)
    assert done.returncode == 0
    for flag in ("--steps", "--candidates", "--keep", "--mle-epochs", "--d-fit-steps", "--model", "--sample-shards"):
        assert flag in done.stdout
    assert "judge, export and review run on rank 0 alone" in " ".join(done.stdout.split())
