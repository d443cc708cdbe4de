"""benchmarks/oracle_protocol.py at tiny sizes: rows written as they finish, read against MLE with a direction,
and the sizes actually used in the header."""

import importlib.util
import json

import pytest

from heygen_lib.paths import PROJECT_ROOT
from heygen_lib.profile import PROFILES

spec = importlib.util.spec_from_file_location("oracle_protocol", PROJECT_ROOT / "benchmarks" / "oracle_protocol.py")
protocol = importlib.util.module_from_spec(spec)
spec.loader.exec_module(protocol)

TINY = ["--profile", "smoke", "--mle-epochs", "1", "--steps", "1", "--rollouts", "1", "--n-train", "200"]
DIRECTIONS = {"better", "worse", "no difference"}


def rows(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def table_lines(folder):
    return [line for line in (folder / "results.md").read_text().splitlines() if line.startswith("| ")]


def test_a_run_writes_one_row_per_method_read_against_mle_with_the_sizes_it_used(tmp_path):
    protocol.main([*TINY, "--out", str(tmp_path)])
    found = rows(tmp_path)
    assert [r["recipe"] for r in found] == ["SeqGAN MLE (Adam 1e-2)", "seqgan_fast", "relgan_fast"]
    assert found[0]["vs MLE"] == "-"
    for row in found[1:]:
        assert row["vs MLE"] in DIRECTIONS
        expected = ("no difference" if abs(row["move / std"]) <= 3 else "better" if row["move"] < 0 else "worse")
        assert row["vs MLE"] == expected, row
    markdown = (tmp_path / "results.md").read_text()
    for stated in ("overridden: --mle-epochs 1, --steps 1, --rollouts 1", "MLE epochs 1;",
                   "seqgan_fast (seqgan): steps 1, rollouts per prefix 1;", "relgan_fast (gumbel): steps 1;",
                   "discriminator small", "evaluation samples 1,000",
                   f"noise repeats {PROFILES['smoke'].gan.noise_repeats}", "n_train=200"):
        assert stated in markdown
    assert "mle_epochs=12" not in markdown and "| vs MLE |" in markdown
    assert markdown.index("| gumbel | relgan_fast |") < markdown.index("MLE temperature sweep")  # the sweep last
    assert markdown.rstrip().splitlines()[-1].startswith("| 1.500 |")
    assert len(json.loads((tmp_path / "results.json").read_text())["rows"]) == 3


def test_an_interrupted_run_keeps_the_rows_it_finished(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    (tmp_path / "results.json").write_text("{}")  # an earlier complete run's
    monkeypatch.setattr(protocol.GANTrainer, "pretrain_discriminator", interrupt)  # the first GAN's first call
    with pytest.raises(SystemExit) as stopped:
        protocol.main([*TINY, "--recipes", "seqgan_fast", "--out", str(tmp_path)])
    assert stopped.value.code == 130
    assert [r["method"] for r in rows(tmp_path)] == ["MLE"]
    assert [line.split(" | ")[0] for line in table_lines(tmp_path)[1:]] == ["| MLE"]
    assert "evaluation noise: NLL_oracle std" in (tmp_path / "results.md").read_text()
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("mistake, said", [(["--rollouts", "0"], "--rollouts must be at least 1"),
                                           (["--recipes", "seqgan_fats"], "unknown recipe 'seqgan_fats'")])
def test_a_bad_argument_is_one_line_before_any_work(tmp_path, capsys, mistake, said):
    with pytest.raises(SystemExit) as stopped:
        protocol.main(["--profile", "smoke", *mistake, "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
