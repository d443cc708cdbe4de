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


def test_the_steps_the_notebooks_show_hold_no_multi_process_code():
    """Notebook 03 shows SeqGAN's step and the LM dialogue GAN's step reads as its update: what several processes
    need happens in the trainers' plumbing and in `DataParallel`, never in these methods."""
    import inspect

    from heygen_lib.dialogue_gan.lm_training import AdversarialLMTrainer
    from heygen_lib.gan.training import GANTrainer

    for method in (GANTrainer._seqgan_generator_step, GANTrainer._samples_with_rewards, AdversarialLMTrainer.step):
        source = inspect.getsource(method)
        for word in ("parallel", "process", "lambda", "rank", "my_shards"):
            assert word not in source, f"{method.__qualname__} mentions {word!r}"
