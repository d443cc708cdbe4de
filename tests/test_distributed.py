import pytest

from heygen_lib import distributed


def test_without_a_launcher_this_is_the_one_process_rank_0():
    assert (distributed.world_size(), distributed.rank()) == (1, 0)
    assert distributed.is_main() and not distributed.launched()
    assert distributed.on_main(lambda: "written") == "written"


def test_the_launchers_variables_say_which_process_this_is_and_only_rank_0_writes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert (distributed.world_size(), distributed.rank()) == (4, 2)
    assert not distributed.is_main() and distributed.launched()
    calls = []
    monkeypatch.setattr(distributed, "wait_for_everyone", lambda: calls.append("waited"))
    assert distributed.on_main(lambda: calls.append("written")) is None
    assert calls == ["waited"]  # rank 2 does not write, but waits for rank 0 to have written


def test_a_global_batch_splits_evenly_over_the_processes_or_is_refused():
    assert distributed.per_process_batch(16, 2) == 8
    assert distributed.per_process_batch(16, 1) == 16
    with pytest.raises(ValueError, match="a batch of 10 rows does not split evenly over 4 processes"):
        distributed.per_process_batch(10, 4)
