"""Checkpoint files: atomic and durable writes, and reads whose every failure names the file (and the field)."""
import os
from dataclasses import dataclass

import pytest
import torch

from heygen_lib.checkpoints import CheckpointError, read_checkpoint, temporary_path, write_checkpoint

CPU = torch.device("cpu")


@dataclass
class Config:
    lr: float = 0.1
    steps: int = 10


def saved(tmp_path, config=Config()):
    from dataclasses import asdict

    return write_checkpoint({"config": asdict(config), "w": torch.arange(3.0)}, tmp_path / "run.pt")


def test_a_round_trip_gives_the_tensors_back_and_leaves_no_temporary(tmp_path):
    path = saved(tmp_path)
    assert torch.equal(read_checkpoint(path, CPU, Config())["w"], torch.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


@pytest.mark.parametrize("cut", [0, 10, 200, -20])
def test_an_empty_or_cut_checkpoint_is_an_error_naming_the_file(tmp_path, cut):
    path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match=rf"{path}: not a readable checkpoint \({len(data[:cut])} bytes"):
        read_checkpoint(path, CPU, Config())


def test_a_checkpoint_without_config_or_with_another_one_names_the_file_and_the_fields(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match=rf"{path}: no 'config' entry"):
        read_checkpoint(path, CPU, Config())
    path = saved(tmp_path, Config(lr=0.2))
    with pytest.raises(CheckpointError, match=r"another Config; lr: saved 0.2, now 0.1$"):
        read_checkpoint(path, CPU, Config())


def test_a_checkpoint_that_would_run_code_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"config": {"lr": 0.1, "steps": 10}, "hook": os.system}, path)  # unpickling it would import code
    with pytest.raises(CheckpointError, match=rf"{path}: refused, it holds more than tensors"):
        read_checkpoint(path, CPU, Config())


def test_a_killed_save_leftover_is_overwritten_and_a_failed_save_removes_its_temporary(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    temporary_path(path).write_bytes(b"half a checkpoint from a killed save")
    saved(tmp_path)
    assert not temporary_path(path).exists() and read_checkpoint(path, CPU, Config())["config"]["lr"] == 0.1

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    saved(tmp_path)
    assert len(synced) == 2  # the file before the rename, then its folder

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        saved(tmp_path)
    assert not temporary_path(path).exists() and read_checkpoint(path, CPU, Config())["config"]["lr"] == 0.1


@pytest.mark.parametrize("config, differ", [
    ({"lr": 0.1}, r"steps: saved '\(missing\)', now 10$"),
    ({"lr": 0.1, "steps": 10, "warmup": None}, r"warmup: saved None, now '\(missing\)'$"),
    ({"lr": 0.2, "steps": 5, "warmup": 1}, r"lr: saved 0.2, now 0.1; steps: saved 5, now 10; warmup: saved 1, now"),
    ("lr=0.1", r"saved config 'lr=0.1'$"),
])
def test_a_config_mismatch_names_every_field_saved_or_expected_alone_even_one_saved_as_none(tmp_path, config, differ):
    path = write_checkpoint({"config": config, "w": torch.zeros(1)}, tmp_path / "run.pt")
    with pytest.raises(CheckpointError, match=rf"{path} was written with another Config; {differ}"):
        read_checkpoint(path, CPU, Config())


def test_a_checkpoint_is_loaded_onto_the_device_asked_for(tmp_path):
    # a GPU run's checkpoint must load on a CPU-only machine: the tensors go where `device` says, not where saved
    assert read_checkpoint(saved(tmp_path), torch.device("meta"), Config())["w"].device.type == "meta"


def test_a_save_that_cannot_open_its_temporary_raises_that_error(tmp_path, monkeypatch):
    import heygen_lib.checkpoints as checkpoints

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoints, "open", read_only, raising=False)
    with pytest.raises(PermissionError):  # not a FileNotFoundError from removing a temporary never made
        saved(tmp_path)


@dataclass
class ConfigWithWarmup(Config):
    warmup: int | None = None  # a field added since: older checkpoints lack it


def test_a_checkpoint_from_before_a_new_field_defaulting_to_none_names_that_field(tmp_path):
    path = saved(tmp_path)  # written with Config: no warmup
    with pytest.raises(CheckpointError, match=r"another ConfigWithWarmup; warmup: saved '\(missing\)', now None$"):
        read_checkpoint(path, CPU, ConfigWithWarmup())


def test_a_full_disk_is_an_error_naming_the_checkpoint_and_the_previous_one_stays(tmp_path):
    import resource

    path = saved(tmp_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))  # writes past 4 KB fail, as on a full disk
    try:
        with pytest.raises(OSError) as caught:
            write_checkpoint({"config": {"lr": 0.1, "steps": 10}, "w": torch.zeros(100_000)}, path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(caught.value).startswith(f"could not save the checkpoint {path}: ")
    assert "the previous checkpoint there is unchanged" in str(caught.value)
    assert not temporary_path(path).exists() and read_checkpoint(path, CPU, Config())["w"].tolist() == [0, 1, 2]
