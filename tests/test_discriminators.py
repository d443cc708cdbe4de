import io
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F

from heygen_lib.gan.discriminators import (
    SEQGAN_FILTER_COUNTS,
    SEQGAN_FILTER_WIDTHS,
    CNNDiscriminator,
    CNNDiscriminatorConfig,
    LSTMDiscriminator,
    LSTMDiscriminatorConfig,
    MLPDiscriminator,
    MLPDiscriminatorConfig,
    cnn_config,
)

V, T, B = 30, 8, 5


def small_discriminators():
    return {
        "cnn": CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=V, max_len=T, embed_dim=8, filter_counts=(4,) * 4)),
        "mlp-flatten": MLPDiscriminator(
            MLPDiscriminatorConfig(vocab_size=V, max_len=T, embed_dim=8, hidden_dims=(16,))
        ),
        "mlp-mean": MLPDiscriminator(
            MLPDiscriminatorConfig(vocab_size=V, max_len=T, embed_dim=8, hidden_dims=(16,), pool="mean")
        ),
        "lstm-last": LSTMDiscriminator(LSTMDiscriminatorConfig(vocab_size=V, embed_dim=8, hidden_dim=6)),
        "lstm-mean": LSTMDiscriminator(
            LSTMDiscriminatorConfig(vocab_size=V, embed_dim=8, hidden_dim=6, num_layers=2, readout="mean")
        ),
    }


NAMES = list(small_discriminators())


def make(name):
    torch.manual_seed(0)
    return small_discriminators()[name].eval()  # eval: dropout off, so outputs are deterministic


def ids(batch=B, length=T, seed=1):
    return torch.randint(0, V, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", NAMES)
def test_one_logit_per_sequence_for_ids_and_one_hots(name):
    d = make(name)
    x = ids()
    soft = torch.softmax(torch.randn(B, T, V), dim=-1)
    assert d(x).shape == (B,)
    assert d(soft).shape == (B,)
    assert d(x).dtype == torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_ids_and_their_exact_one_hots_give_identical_logits(name):
    d = make(name)
    x = ids()
    assert torch.equal(d(x), d(F.one_hot(x, V).float()))


@pytest.mark.parametrize("name", NAMES)
def test_gradient_from_a_soft_one_hot_matches_finite_differences(name):
    d = make(name).double()
    soft = torch.softmax(torch.randn(2, T, V, dtype=torch.float64), dim=-1).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(soft).sum(), soft)
    assert grad.abs().sum() > 0
    # Directional derivatives along random directions: autograd's against central differences.
    eps = 1e-6
    for seed in range(3):
        v = torch.randn(soft.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            numeric = (d(soft + eps * v) - d(soft - eps * v)) / (2 * eps)  # [2]
        analytic = (grad * v).flatten(1).sum(dim=1)
        torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_dropout_is_active_only_in_training_mode(name):
    d = make(name)
    x = ids(batch=64)
    assert torch.equal(d(x), d(x))
    d.train()
    torch.manual_seed(1)
    first = d(x)
    torch.manual_seed(2)
    assert not torch.equal(first, d(x))


def test_wrongly_shaped_inputs_are_clear_errors():
    d = make("cnn")
    with pytest.raises(ValueError, match=r"one-hot input must be \[B, T, 30\], got \[5, 8, 29\]"):
        d(torch.rand(B, T, V - 1))
    with pytest.raises(ValueError, match=r"token ids must be \[B, T\], got \[5\]"):
        d(torch.zeros(B, dtype=torch.long))


def test_filters_wider_than_the_sequence_are_narrowed_to_it():
    config = CNNDiscriminatorConfig(
        vocab_size=V, max_len=6, embed_dim=8, filter_widths=SEQGAN_FILTER_WIDTHS, filter_counts=SEQGAN_FILTER_COUNTS
    )
    d = CNNDiscriminator(config).eval()
    assert d.widths == [1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6]
    assert d.highway.gate.in_features == sum(SEQGAN_FILTER_COUNTS) == 1720
    assert d(ids(length=6)).shape == (B,)


def test_sequences_shorter_than_the_widest_filter_are_padded_not_an_error():
    d = make("cnn")  # widths 2..5
    assert d(ids(length=3)).shape == (B,)
    assert d(ids(length=1)).shape == (B,)
    assert d(F.one_hot(ids(length=1), V).float()).shape == (B,)


def test_cnn_with_seqgan_settings_has_seqgan_parameter_count():
    config = CNNDiscriminatorConfig(filter_widths=SEQGAN_FILTER_WIDTHS, filter_counts=SEQGAN_FILTER_COUNTS)
    d = CNNDiscriminator(config)
    embedding = 5000 * 64
    convs = sum(w * 64 * n + n for w, n in zip(SEQGAN_FILTER_WIDTHS, SEQGAN_FILTER_COUNTS))
    highway = 2 * (1720 * 1720 + 1720)
    assert sum(p.numel() for p in d.parameters()) == embedding + convs + highway + 1721 == 7_043_681


def test_named_seqgan_cnn_has_the_peer_parameter_count_and_the_wide_one_seqgans_tf_count():
    count = lambda name: sum(p.numel() for p in CNNDiscriminator(cnn_config(name, 5000, 20)).parameters())
    assert count("seqgan") == 5000 * 64 + 801_720 + (1720 * 1720 + 1720) + 1721 == 4_083_561
    assert count("seqgan_wide") == 7_043_681
    with pytest.raises(ValueError, match="unknown CNN configuration"):
        cnn_config("seqgan2", 5000, 20)


def test_shared_highway_uses_one_layer_for_gate_and_transform():
    torch.manual_seed(0)
    d = CNNDiscriminator(cnn_config("seqgan", 50, 8))
    h = torch.randn(3, 1720)
    z = d.highway.transform(h)
    expected = torch.sigmoid(z) * F.relu(z) + (1 - torch.sigmoid(z)) * h
    torch.testing.assert_close(d.highway(h), expected)


def test_cnn_logit_ignores_where_a_lone_ngram_sits_when_the_rest_is_one_repeated_token():
    # Max-over-time pooling: a pattern's feature is the same wherever it occurs (away from edge effects it
    # shares with the background token everywhere else).
    d = make("cnn")
    background = torch.full((1, 20), 7)
    a, b = background.clone(), background.clone()
    a[0, 6:9] = torch.tensor([1, 2, 3])
    b[0, 12:15] = torch.tensor([1, 2, 3])
    torch.testing.assert_close(d(a), d(b))


def test_mean_pooled_mlp_cannot_see_word_order_but_flattened_mlp_can():
    x = ids()
    shuffled = x[:, torch.randperm(T, generator=torch.Generator().manual_seed(3))]
    mean, flat = make("mlp-mean"), make("mlp-flatten")
    torch.testing.assert_close(mean(x), mean(shuffled))
    assert not torch.allclose(flat(x), flat(shuffled))


def test_flattened_mlp_rejects_the_wrong_length():
    with pytest.raises(ValueError, match="pool='flatten' needs sequences of length 8, got 5"):
        make("mlp-flatten")(ids(length=5))


def test_bidirectional_lstm_last_readout_is_forward_end_and_backward_start():
    d = make("lstm-last")
    x = ids()
    outputs, _ = d.lstm(d.embedding(x))  # [B, T, 2H]
    h = d.config.hidden_dim
    expected = d.out(torch.cat([outputs[:, -1, :h], outputs[:, 0, h:]], dim=-1)).squeeze(-1)
    torch.testing.assert_close(d(x), expected)


@pytest.mark.parametrize(
    ("name", "pool_or_readout"),
    [("mlp", "sum"), ("lstm", "first")],
)
def test_unknown_pooling_is_a_clear_error(name, pool_or_readout):
    with pytest.raises(ValueError, match=repr(pool_or_readout)):
        if name == "mlp":
            MLPDiscriminator(MLPDiscriminatorConfig(pool=pool_or_readout))
        else:
            LSTMDiscriminator(LSTMDiscriminatorConfig(readout=pool_or_readout))


@pytest.mark.parametrize("name", NAMES)
def test_config_and_weights_round_trip(name):
    d = make(name)
    buffer = io.BytesIO()
    torch.save({"config": asdict(d.config), "state": d.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    rebuilt = type(d)(type(d.config)(**saved["config"]))
    rebuilt.load_state_dict(saved["state"])
    x = ids()
    assert torch.equal(rebuilt.eval()(x), d(x))
