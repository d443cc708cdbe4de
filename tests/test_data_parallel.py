"""`DataParallel.my_shards`: which seeded shards of a global batch each process draws (checked without launching
processes: the launcher's variables say which process this is)."""

import torch

from heygen_lib.gan.data_parallel import DataParallel


def test_each_process_takes_its_own_consecutive_shards_and_one_process_takes_them_all(monkeypatch):
    batch = list("abcdefgh")
    assert DataParallel(0, 8, 4, torch.device("cpu")).my_shards(batch) == [
        (0, list("ab")), (1, list("cd")), (2, list("ef")), (3, list("gh"))]
    assert DataParallel(0, 8, None, torch.device("cpu")).my_shards(batch) == [(0, batch)]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert DataParallel(0, 8, 4, torch.device("cpu")).my_shards(batch) == [(2, list("ef")), (3, list("gh"))]
