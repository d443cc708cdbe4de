import math
import os
import pickle

import numpy as np
import pytest
import torch

from heygen_lib.gan import oracle as oracle_module
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.oracle import (
    FULL,
    KNOWN_WEIGHTS_SHA256,
    SMOKE,
    OracleConfig,
    build_oracle,
    load_oracle,
    load_seqgan_oracle,
    nll_oracle,
    nll_test,
    oracle_benchmark,
    oracle_config,
    oracle_file,
    oracle_floor,
    read_seqgan_params,
    sample_oracle_data,
    weights_sha256,
)

TINY = OracleConfig(vocab_size=40, max_len=6, embed_dim=8, hidden_dim=8, n_train=200, n_test=100)


def test_the_fixed_seed_draws_the_published_oracle_weights():
    first, second = build_oracle(SMOKE), build_oracle(SMOKE)
    assert weights_sha256(first) == weights_sha256(second) == KNOWN_WEIGHTS_SHA256[(500, 32, 32, 88)]
    other = build_oracle(OracleConfig(vocab_size=500, max_len=10, weight_seed=89))
    assert weights_sha256(other) != weights_sha256(first)
    # Every weight from N(0, 1), as in SeqGAN/Texygen.
    assert abs(first.embedding.weight.std().item() - 1.0) < 0.05


def test_full_oracle_has_the_papers_sizes():
    assert (FULL.vocab_size, FULL.embed_dim, FULL.hidden_dim, FULL.max_len, FULL.n_train) == (5000, 32, 32, 20, 10_000)
    assert oracle_config("smoke") == SMOKE and oracle_config("full") == FULL
    assert (SMOKE.vocab_size, SMOKE.max_len, SMOKE.n_train) == (500, 10, 1_000)


def test_drawing_weights_that_differ_from_the_published_checksum_is_an_error(monkeypatch):
    monkeypatch.setitem(KNOWN_WEIGHTS_SHA256, (40, 8, 8, 88), "0" * 64)
    with pytest.raises(RuntimeError, match="does not match its published checksum"):
        build_oracle(TINY)


def test_benchmark_is_made_once_then_loaded_from_the_cache(tmp_path):
    oracle, train, test = oracle_benchmark(TINY, folder=tmp_path)
    path = oracle_file(TINY, tmp_path)
    assert path.exists() and train.shape == (200, 6) and test.shape == (100, 6)
    stamp = path.stat().st_mtime_ns
    again, train2, test2 = oracle_benchmark(TINY, folder=tmp_path)
    assert path.stat().st_mtime_ns == stamp  # loaded, not remade
    assert weights_sha256(again) == weights_sha256(oracle) == weights_sha256(build_oracle(TINY))
    assert torch.equal(train, train2) and torch.equal(test, test2)
    assert not torch.equal(train[:100], test)  # held-out data is a different draw
    assert not any(p.requires_grad for p in oracle.parameters())


def test_oracle_data_are_reproducible_from_their_seed():
    oracle = build_oracle(TINY)
    a, b = sample_oracle_data(oracle, 50, seed=3), sample_oracle_data(oracle, 50, seed=3)
    assert torch.equal(a, b) and not torch.equal(a, sample_oracle_data(oracle, 50, seed=4))


def _tamper(path, edit):
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)


def test_edited_weights_or_data_fail_their_checksum_on_load(tmp_path):
    oracle_benchmark(TINY, folder=tmp_path)
    path = oracle_file(TINY, tmp_path)
    good = path.read_bytes()

    _tamper(path, lambda p: p["state_dict"]["head.bias"].add_(1e-3))
    with pytest.raises(ValueError, match="weights do not match their checksum"):
        load_oracle(path)

    path.write_bytes(good)
    _tamper(path, lambda p: p["train"].__setitem__((0, 0), (int(p["train"][0, 0]) + 1) % 40))
    with pytest.raises(ValueError, match="data do not match their checksum"):
        load_oracle(path)


def test_a_consistent_file_with_other_weights_is_not_the_standard_oracle(tmp_path, monkeypatch):
    oracle_benchmark(TINY, folder=tmp_path)
    monkeypatch.setitem(KNOWN_WEIGHTS_SHA256, (40, 8, 8, 88), "f" * 64)
    with pytest.raises(ValueError, match="not the kit's standard oracle"):
        load_oracle(oracle_file(TINY, tmp_path))


def test_oracle_metrics_and_floor():
    oracle = build_oracle(TINY)
    data = sample_oracle_data(oracle, 400, seed=0)
    floor = oracle_floor(oracle, data)
    with torch.no_grad():
        assert floor == pytest.approx(oracle.nll(data).mean().item(), rel=1e-6)
    assert nll_test(oracle, data) == pytest.approx(floor)
    # N(0, 1) weights make a peaked language: far below the uniform log V.
    assert floor < math.log(TINY.vocab_size) - 0.5
    # A generator that knows nothing (uniform) is worse on quality and on coverage.
    uniform = LSTMGenerator(LSTMGeneratorConfig(vocab_size=40, max_len=6, embed_dim=8, hidden_dim=8))
    with torch.no_grad():
        for p in uniform.parameters():
            p.zero_()
    assert nll_test(uniform, data) == pytest.approx(math.log(40), rel=1e-5)
    assert nll_oracle(oracle, uniform.sample(400)) > floor + 0.5


# --- SeqGAN's published oracle format -----------------------------------------------------------------------------


def seqgan_params(vocab=11, emb=3, hidden=4, seed=0):
    """Arrays in the order of SeqGAN's target_lstm.py (x @ W row-vector convention)."""
    rng = np.random.default_rng(seed)
    shapes = [(vocab, emb)] + [(emb, hidden), (hidden, hidden), (hidden,)] * 4 + [(hidden, vocab), (vocab,)]
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def seqgan_logits(params, tokens, start_token=0):
    """SeqGAN's TARGET_LSTM recurrence, written out in numpy: teacher-forced logits [B, T, V]."""
    emb, Wi, Ui, bi, Wf, Uf, bf, Wog, Uog, bog, Wc, Uc, bc, Wo, bo = params
    sigmoid = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    B, T = tokens.shape
    h = np.zeros((B, Ui.shape[0]))
    c = np.zeros_like(h)
    x = emb[np.full(B, start_token)]
    out = []
    for t in range(T):
        i = sigmoid(x @ Wi + h @ Ui + bi)
        f = sigmoid(x @ Wf + h @ Uf + bf)
        o = sigmoid(x @ Wog + h @ Uog + bog)
        c_new = np.tanh(x @ Wc + h @ Uc + bc)
        c = f * c + i * c_new
        h = o * np.tanh(c)
        out.append(h @ Wo + bo)
        x = emb[tokens[:, t]]
    return np.stack(out, axis=1)


def test_the_published_oracle_is_refused_when_its_bytes_are_not_the_published_files(tmp_path):
    path = tmp_path / "target_params_py3.pkl"
    path.write_bytes(pickle.dumps(seqgan_params()))
    with pytest.raises(ValueError, match="SHA-256 .* is not the expected 5ac794a6"):
        load_seqgan_oracle(path)


@pytest.mark.parametrize("protocol", [2, 3, 5])
def test_seqgan_file_maps_onto_the_lstm_with_the_same_function(tmp_path, protocol):
    params = seqgan_params()
    path = tmp_path / "target_params_py3.pkl"
    path.write_bytes(pickle.dumps(params, protocol=protocol))
    model = load_seqgan_oracle(path, max_len=7, sha256=None)
    assert model.config.vocab_size == 11 and model.config.hidden_dim == 4 and model.config.start_token == 0
    tokens = np.random.default_rng(1).integers(0, 11, size=(5, 7))
    with torch.no_grad():
        got = model(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(got, seqgan_logits(params, tokens), rtol=1e-4, atol=1e-5)


def test_restricted_loader_refuses_a_pickle_that_runs_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps([np.zeros(3, np.float32), Evil()])
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        read_seqgan_params(payload)
    assert not marker.exists()
    pickle.loads(payload)  # the same bytes do run code with the ordinary unpickler: the test is meaningful
    assert marker.exists()


def test_restricted_loader_refuses_object_arrays_and_other_shapes():
    with pytest.raises(pickle.UnpicklingError):
        read_seqgan_params(pickle.dumps([np.array([1, "a"], dtype=object)]))
    with pytest.raises(ValueError, match="list of arrays"):
        read_seqgan_params(pickle.dumps({"emb": np.zeros(2)}))
    with pytest.raises(ValueError, match="15 parameter arrays"):
        oracle_module.seqgan_params_to_generator(seqgan_params()[:14])
    bad = seqgan_params()
    bad[2] = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="every gate|shape"):
        oracle_module.seqgan_params_to_generator(bad)
