import pytest
import torch
from torch import nn

from heygen_lib.torch_utils import eval_mode, make_optimizer


def test_make_optimizer_builds_adam_and_rmsprop_with_given_settings():
    params = [nn.Parameter(torch.zeros(3))]
    adam = make_optimizer(params, "adam", lr=1e-2, betas=(0.5, 0.9))
    assert isinstance(adam, torch.optim.Adam)
    assert adam.param_groups[0]["lr"] == 1e-2 and adam.param_groups[0]["betas"] == (0.5, 0.9)
    rmsprop = make_optimizer(params, "rmsprop", lr=5e-5)
    assert isinstance(rmsprop, torch.optim.RMSprop)
    assert rmsprop.param_groups[0]["lr"] == 5e-5 and rmsprop.param_groups[0]["alpha"] == 0.99
    assert make_optimizer(params).param_groups[0]["lr"] == 1e-4  # RelGAN's default


def test_make_optimizer_rejects_unknown_names():
    with pytest.raises(ValueError, match="'sgd'"):
        make_optimizer([nn.Parameter(torch.zeros(1))], "sgd")


def test_eval_mode_turns_dropout_off_inside_and_restores_each_modules_own_mode_even_after_an_error():
    training, evaluating = nn.Dropout(0.5), nn.Dropout(0.5).eval()
    with pytest.raises(RuntimeError), eval_mode(training, evaluating):
        assert not training.training and not evaluating.training
        assert torch.equal(training(torch.ones(100)), torch.ones(100))  # no units dropped
        raise RuntimeError("interrupted")
    assert training.training and not evaluating.training
