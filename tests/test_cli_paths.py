"""A missing or wrong path given to one of the kit's commands is one line of error and exit status 2, before any
work starts and before torch loads (so it answers at once); a bad HEYGEN_MODEL reads the same way."""

import pytest

from test_cli_start import run_module


@pytest.fixture
def paths(tmp_path):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize("module, args, says", [
    ("heygen_lib.chat", ["--model", "{p}/nope"], "--model {p}/nope names no folder (nothing is there); give the "
     "folder of a fine-tuned model (run notebook 05 to save one in artifacts/nlg/model)"),
    ("heygen_lib.chat", ["--model", "{p}/a-file"], "--model {p}/a-file is a file, not a folder; give the folder of a "
     "fine-tuned model (run notebook 05 to save one in artifacts/nlg/model)"),
    ("heygen_lib.nlg", ["--model", "{p}/nope"], "--model {p}/nope names no folder (nothing is there); give a saved "
     "model's folder or a hub name"),
    ("heygen_lib.nlg", ["--model", "{p}/empty"], "--model {p}/empty holds no saved model (no config.json); give the "
     "folder that save_pretrained wrote"),
    ("heygen_lib.nlg", ["--model", "tiny", "--output", "{p}/a-file"], "--output {p}/a-file is a file, not a folder; "
     "give a folder to save the model in"),
    ("heygen_lib.nlg", ["--model", "tiny", "--run-dir", "{p}/a-file/runs"], "--run-dir {p}/a-file/runs cannot be "
     "created: {p}/a-file is a file, not a folder; give a folder for checkpoints and logs"),
    ("heygen_lib.dialogue_gan", ["--model", "{p}/nope"], "--model {p}/nope names no folder (nothing is there); give a "
     "saved model's folder or a hub name"),
])
def test_a_wrong_path_is_one_line_and_exit_2_before_torch_loads(paths, module, args, says):
    done, heavy = run_module(module, *(a.format(p=paths) for a in args))
    assert done.returncode == 2 and heavy == []
    assert done.stderr.splitlines()[:-1] == [f"error: {says.format(p=paths)}"]


def test_heygen_model_naming_no_folder_is_named_by_the_fine_tuning_command(paths, monkeypatch):
    import os

    env = {**os.environ, "HEYGEN_MODEL": str(paths / "nope"), "HEYGEN_ARTIFACTS_DIR": str(paths / "artifacts")}
    done, _ = run_module("heygen_lib.nlg", "--limit", "20", "--no-progress", env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines()[:-1] == [f"error: HEYGEN_MODEL='{paths / 'nope'}' names no folder (nothing is "
                                             "there); give a saved model's folder or a hub name, or unset HEYGEN_MODEL"]
