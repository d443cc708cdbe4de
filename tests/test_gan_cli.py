import subprocess
import sys

import pytest
import torch

from heygen_lib.gan.__main__ import main
from heygen_lib.gan.training import recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--profile", "smoke", "--mle-epochs", "1", "--d-pretrain-steps", "1", "--rollouts", "2", "--eval-every", "2",
        "--eval-samples", "50"]


def test_a_run_writes_notebook_3s_checkpoints_and_resume_continues_without_redoing_mle(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    assert main([*TINY, "--steps", "2"]) == 0
    folder = tmp_path / "text_gans"
    mle_written = (folder / "mle.pt").stat().st_mtime_ns
    assert main([*TINY, "--steps", "3", "--resume"]) == 0
    assert (folder / "mle.pt").stat().st_mtime_ns == mle_written  # MLE was done: not trained again
    state = torch.load(folder / "seqgan.pt", weights_only=True)
    d_steps = recipe("seqgan_fast").d_steps  # the default recipe, notebook 03's
    assert state["steps"]["adversarial"] == 3 and state["steps"]["discriminator"] == 1 + 3 * d_steps  # 1 pre-training
    assert [r["adversarial_steps"] for r in state["history"] if r["phase"] == "eval"] == [0, 2, 3]
    assert "after seqgan" in capsys.readouterr().out


def test_a_missing_text_file_is_one_line_of_error(tmp_path, capsys):
    assert main([*TINY, "--data", str(tmp_path / "nope.txt")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "nope.txt" in error


def test_a_text_file_trains_with_a_length_chosen_from_its_sentences(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    lines = [f"the parcel {i} is late again" for i in range(30)] + ["a much longer line " * 5]
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main([*TINY, "--data", str(text), "--steps", "1"]) == 0
    out = capsys.readouterr().out
    # 3 lines held out; under 1,000 sentences, 99.9% coverage keeps even the longest (20 words + <eos>) whole
    assert "sequences of 21 tokens; 0 of 28 training sentences are longer and cut" in out
    assert "copy_rate" in out


def test_resuming_on_another_text_file_is_refused_in_one_line_naming_the_checkpoint_and_both_files(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEYGEN_ARTIFACTS_DIR", str(tmp_path))
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("\n".join(f"the parcel {i} is late again" for i in range(30)) + "\n", encoding="utf-8")
    b.write_text("\n".join(f"my card {i} was charged twice today and yesterday" for i in range(40)) + "\n",
                 encoding="utf-8")
    assert main([*TINY, "--data", str(a), "--steps", "1"]) == 0
    capsys.readouterr()
    assert main([*TINY, "--data", str(b), "--steps", "2", "--resume"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    assert "mle.pt" in error and "a.txt" in error and "b.txt" in error


def test_help_answers_without_importing_torch():
    code = ("import runpy, sys\nsys.argv = ['python -m heygen_lib.gan', '--help']\n"
            "try:\n    runpy.run_module('heygen_lib.gan', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('torch imported:', 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--method" in done.stdout and "--recipe" in done.stdout
    assert done.stdout.strip().endswith("torch imported: False")


def test_the_flags_choices_are_the_kits_profiles_losses_and_recipes():
    from heygen_lib.gan import __main__ as cli
    from heygen_lib.gan.losses import LOSSES
    from heygen_lib.gan.training import RECIPES
    from heygen_lib.profile import PROFILES

    assert set(cli.PROFILE_NAMES) == set(PROFILES) and set(cli.LOSS_NAMES) == set(LOSSES)
    assert set(cli.RECIPE_NAMES) == set(RECIPES)
