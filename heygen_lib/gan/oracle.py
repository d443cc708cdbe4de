"""The synthetic-oracle benchmark of SeqGAN (Yu et al. 2017), LeakGAN, RelGAN, Texygen and TextGAN-PyTorch.

A randomly initialised LSTM, the *oracle*, plays the role of the true language: it writes the "real" data, and,
unlike for real text, it can score any sequence exactly. Two numbers, both per-token NLL in nats, lower is better:

- ``nll_oracle(oracle, samples)``: how likely the oracle finds a generator's samples: **quality**. A generator
  that repeats the oracle's favourite sentence scores well here, so never report it alone;
- ``nll_test(generator, test_data)``: how likely the generator finds held-out oracle data: **coverage**. A
  generator that dropped part of the language (mode collapse) scores badly here.

The floor is the oracle's NLL on its own data (its entropy rate, about 5.75 for the papers' oracle): a perfect
generator reaches it on both numbers.

The kit's oracle (vocabulary 5,000, embedding and hidden size 32, every weight from N(0, 1), length 20, 10,000
training sequences) is drawn from a fixed seed and its weights are checked against a SHA-256 digest written in this
file, so every user has the same oracle; it is saved with its data in a cache folder as plain tensors
(``torch.load(weights_only=True)``). TextGAN-PyTorch draws a new oracle per install, which makes its numbers
incomparable across installs.

The papers' numbers hold only on the papers' oracle, which the SeqGAN repository publishes as a pickled list of
numpy arrays. `load_seqgan_oracle` reads that file with an unpickler that accepts nothing but plain numeric arrays
and lists (a pickle can otherwise run any code), and maps it onto `LSTMGenerator`.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from heygen_lib.torch_utils import eval_mode

from .generators import LSTMGenerator, LSTMGeneratorConfig, TextGenerator

FORMAT_VERSION = 1
# Where the papers' oracle is published; the kit never downloads it itself: pass the file's path (or this URL
# explicitly) to `load_seqgan_oracle`, which checks the bytes against this SHA-256 of LantaoYu/SeqGAN's file.
SEQGAN_ORACLE_URL = "https://raw.githubusercontent.com/LantaoYu/SeqGAN/master/save/target_params_py3.pkl"
SEQGAN_ORACLE_SHA256 = "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a"  # 1,334,000 bytes
SEQGAN_ORACLE_FLOOR = 5.75  # its NLL on its own data, as RelGAN and TextGAN-PyTorch report it


@dataclass(frozen=True)
class OracleConfig:
    """The benchmark's sizes. The defaults are the papers' protocol; `SMOKE` is the same recipe scaled down."""

    vocab_size: int = 5000
    max_len: int = 20  # T
    embed_dim: int = 32
    hidden_dim: int = 32
    n_train: int = 10_000  # "real" training sequences
    n_test: int = 10_000  # held-out sequences for NLL_test (and the floor)
    start_token: int = 0
    weight_seed: int = 88  # draws the oracle's weights (88 is SeqGAN's seed)
    data_seed: int = 1  # draws its training and test data


FULL = OracleConfig()
SMOKE = OracleConfig(vocab_size=500, max_len=10, n_train=1_000, n_test=500)

# SHA-256 of the weights `build_oracle` draws (see `weights_sha256`), keyed by what the weights depend on:
# (vocab_size, embed_dim, hidden_dim, weight_seed). Drawing anything else fails loudly instead of silently giving a
# different oracle (e.g. if a future PyTorch changed its random number generator).
KNOWN_WEIGHTS_SHA256 = {
    (5000, 32, 32, 88): "01d8b9dacf38f931d09eaaee6120d9cbf6245168efc286147eb9c28ab07ddccc",
    (500, 32, 32, 88): "1ebc36d2bbfc932f639aaaafb50355bf8b8dfcee6893955795d3378e8ab18c92",
}


def oracle_config(profile_name: str | None = None) -> OracleConfig:
    """`FULL` or `SMOKE` for a profile name (the active profile's when None)."""
    if profile_name is None:
        from heygen_lib.profile import active_profile

        profile_name = active_profile().name
    return SMOKE if profile_name == "smoke" else FULL


# ---------------------------------------------------------------------------------------------------------------
# Building, checking, saving and loading the kit's oracle
# ---------------------------------------------------------------------------------------------------------------


def _generator_config(config: OracleConfig) -> LSTMGeneratorConfig:
    return LSTMGeneratorConfig(
        vocab_size=config.vocab_size,
        max_len=config.max_len,
        start_token=config.start_token,
        embed_dim=config.embed_dim,
        hidden_dim=config.hidden_dim,
        init="normal",
    )


def build_oracle(config: OracleConfig = FULL) -> LSTMGenerator:
    """The oracle LSTM with every weight and gate bias drawn from N(0, 1) by a generator seeded with
    ``config.weight_seed``: the same weights on every machine. Checked against `KNOWN_WEIGHTS_SHA256` when listed."""
    oracle = LSTMGenerator(_generator_config(config))
    oracle.reset_parameters(torch.Generator().manual_seed(config.weight_seed))
    expected = KNOWN_WEIGHTS_SHA256.get((config.vocab_size, config.embed_dim, config.hidden_dim, config.weight_seed))
    if expected and weights_sha256(oracle) != expected:
        raise RuntimeError(
            "the oracle drawn from the fixed seed does not match its published checksum: this PyTorch draws "
            "different random numbers, so results would not be comparable. Use a saved oracle file instead."
        )
    return oracle.eval()


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 over the model's parameters: names, dtypes, shapes and little-endian bytes, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}|{array.dtype.str}|{tuple(array.shape)}|".encode())
        digest.update(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()


def _data_sha256(*tensors: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.cpu().to(torch.int64).contiguous().numpy().astype("<i8").tobytes())
    return digest.hexdigest()


@torch.no_grad()
def sample_oracle_data(oracle: TextGenerator, n: int, seed: int, batch_size: int = 1000) -> torch.Tensor:
    """`n` sequences from the oracle, on the CPU in float64 with a seeded generator: LongTensor [n, T].

    Double precision makes the draws independent of the CPU's float32 rounding, so the same seed gives the same
    data on any machine (a token would differ only if a uniform number fell within ~1e-15 of a boundary).
    """
    model = LSTMGenerator(oracle.config).double()
    model.load_state_dict(oracle.state_dict())
    rng = torch.Generator().manual_seed(seed)
    return torch.cat([model.sample(min(batch_size, n - i), generator=rng) for i in range(0, n, batch_size)])


def oracle_file(config: OracleConfig, folder: str | Path) -> Path:
    c = config
    name = f"oracle_v{c.vocab_size}_e{c.embed_dim}_h{c.hidden_dim}_t{c.max_len}_s{c.weight_seed}"
    return Path(folder) / f"{name}_n{c.n_train}-{c.n_test}_d{c.data_seed}.pt"


def save_oracle(
    oracle: LSTMGenerator, train: torch.Tensor, test: torch.Tensor, config: OracleConfig, path: Path
) -> None:
    """Write weights, data, config and checksums as plain tensors and values (readable with weights_only=True)."""
    payload = {
        "format": FORMAT_VERSION,
        "config": asdict(config),
        "state_dict": {k: v.detach().cpu().clone() for k, v in oracle.state_dict().items()},
        "weights_sha256": weights_sha256(oracle),
        "train": train.cpu(),
        "test": test.cpu(),
        "data_sha256": _data_sha256(train, test),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # never leave a half-written cache file behind


def load_oracle(path: str | Path) -> tuple[LSTMGenerator, torch.Tensor, torch.Tensor, OracleConfig]:
    """Read a file written by `save_oracle`, verifying the weights' and the data's checksums."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: unknown oracle file format {payload.get('format')!r}")
    config = OracleConfig(**payload["config"])
    oracle = LSTMGenerator(_generator_config(config))
    oracle.load_state_dict(payload["state_dict"])
    found = weights_sha256(oracle)
    if found != payload["weights_sha256"]:
        raise ValueError(f"{path}: oracle weights do not match their checksum (file damaged or edited)")
    expected = KNOWN_WEIGHTS_SHA256.get((config.vocab_size, config.embed_dim, config.hidden_dim, config.weight_seed))
    if expected and found != expected:
        raise ValueError(f"{path}: these are not the kit's standard oracle weights for this configuration")
    train, test = payload["train"], payload["test"]
    if _data_sha256(train, test) != payload["data_sha256"]:
        raise ValueError(f"{path}: oracle data do not match their checksum (file damaged or edited)")
    return oracle.eval(), train, test, config


def oracle_benchmark(
    config: OracleConfig | None = None, folder: str | Path | None = None, device: torch.device | str | None = None
) -> tuple[LSTMGenerator, torch.Tensor, torch.Tensor]:
    """(oracle, train data [n_train, T], test data [n_test, T]) from the cache folder, made there first if absent.

    `config` defaults to the active profile's (`oracle_config()`), `folder` to ``artifacts/oracle`` (git-ignored).
    The oracle is in eval mode, without gradients, on `device` (the data stay on the CPU).
    """
    config = config or oracle_config()
    if folder is None:
        from heygen_lib.paths import artifacts_dir

        folder = artifacts_dir() / "oracle"
    path = oracle_file(config, folder)
    if not path.exists():
        oracle = build_oracle(config)
        train = sample_oracle_data(oracle, config.n_train, seed=config.data_seed)
        test = sample_oracle_data(oracle, config.n_test, seed=config.data_seed + 1_000_003)
        save_oracle(oracle, train, test, config, path)
    oracle, train, test, _ = load_oracle(path)
    oracle.requires_grad_(False)
    return oracle.to(device or "cpu"), train, test


# ---------------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def _mean_nll(model: TextGenerator, tokens: torch.Tensor, batch_size: int, temperature: float = 1.0) -> float:
    total = 0.0
    with eval_mode(model):
        for chunk in tokens.split(batch_size):
            total += model.nll(chunk.to(model.device), temperature).double().sum().item()
    return total / tokens.size(0)


def nll_oracle(oracle: TextGenerator, samples: torch.Tensor, batch_size: int = 1000) -> float:
    """Quality: the oracle's mean per-token NLL (nats) of a generator's `samples` [N, T]."""
    return _mean_nll(oracle, samples, batch_size)


def nll_test(generator: TextGenerator, test_data: torch.Tensor, batch_size: int = 1000, temperature: float = 1.0) -> float:
    """Coverage: the generator's mean per-token NLL of held-out oracle data [N, T], under its softmax at
    `temperature`. For a `VAEGenerator` this is its ELBO bound, an upper bound on the NLL, not the NLL itself."""
    return _mean_nll(generator, test_data, batch_size, temperature)


def oracle_floor(oracle: TextGenerator, test_data: torch.Tensor, batch_size: int = 1000) -> float:
    """The oracle's NLL on its own data: what a perfect generator would reach on both metrics."""
    return _mean_nll(oracle, test_data, batch_size)


# ---------------------------------------------------------------------------------------------------------------
# The papers' oracle: SeqGAN's target_params_py3.pkl
# ---------------------------------------------------------------------------------------------------------------


# The only callables a SeqGAN oracle pickle may reach, each restricted to building numeric arrays.


def _reconstruct(cls: type, shape: tuple, dtype_code: object) -> np.ndarray:
    """numpy's ``_reconstruct``: an empty ndarray that the pickle then fills (``ndarray.__setstate__``)."""
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("only plain numpy arrays may be loaded")
    return np.ndarray.__new__(np.ndarray, shape, _dtype(dtype_code))


def _dtype(spec: object, align: bool = False, copy: bool = True) -> np.dtype:
    """``numpy.dtype`` for numeric types only; always a fresh copy, so the pickle cannot alter numpy's shared ones."""
    if not isinstance(spec, (str, bytes)):
        raise pickle.UnpicklingError(f"refusing dtype specification {spec!r}")
    dtype = np.dtype(spec.decode("ascii") if isinstance(spec, bytes) else spec, bool(align), True)
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.hasobject:
        raise pickle.UnpicklingError(f"refusing array dtype {dtype!r}: only numeric arrays are allowed")
    return dtype


def _frombuffer(buffer: object, dtype: object, shape: tuple, order: str) -> np.ndarray:
    """numpy's protocol-5 array helper."""
    if not isinstance(dtype, np.dtype):
        dtype = _dtype(dtype)
    return np.frombuffer(buffer, dtype=_dtype(dtype.str)).reshape(shape, order=order).copy()


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode``, which protocol-2 pickles written by Python 3 use to store bytes; latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing codec call encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin-1")


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numeric numpy arrays, lists, tuples, numbers and strings: every other global is refused.

    A pickle is a program: loading it can call any importable function (``os.system`` included). This unpickler
    resolves only the few numpy helpers that rebuild an ndarray, wrapped so they cannot build anything but a
    numeric ndarray, and raises `pickle.UnpicklingError` for everything else.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _dtype,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("_codecs", "encode"): _latin1_encode,
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only plain numeric arrays and lists are allowed"
            ) from None


def read_seqgan_params(source: str | Path | bytes, sha256: str | None = None) -> list[np.ndarray]:
    """The arrays of a SeqGAN oracle file (a path, an http(s) URL, or the file's bytes), read with
    `ArraysOnlyUnpickler`: 15 float arrays in `target_lstm.py`'s order (see `seqgan_params_to_generator`).
    With `sha256`, the bytes must have that digest (checked before unpickling)."""
    data = _read_bytes(source)
    if sha256 is not None and (found := hashlib.sha256(data).hexdigest()) != sha256:
        name = "the given bytes" if isinstance(source, bytes) else str(source)
        raise ValueError(f"{name}: SHA-256 {found} is not the expected {sha256}; this is not the published "
                         "LantaoYu/SeqGAN save/target_params_py3.pkl (pass sha256=None to load another oracle)")
    params = ArraysOnlyUnpickler(io.BytesIO(data)).load()
    if not isinstance(params, (list, tuple)):
        raise ValueError(f"a SeqGAN oracle file holds a list of arrays, not {type(params).__name__}")
    arrays = []
    for p in params:
        a = np.asarray(p)
        if a.dtype.kind not in "biuf" or a.dtype.hasobject:
            raise ValueError(f"a SeqGAN oracle file holds numeric arrays, found dtype {a.dtype}")
        arrays.append(a.astype(np.float32))
    return arrays


def _read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif str(source).startswith(("http://", "https://")):
        with urllib.request.urlopen(str(source), timeout=60) as response:  # noqa: S310 (https URL by the caller)
            data = response.read()
    else:
        data = Path(source).read_bytes()
    return data


def seqgan_params_to_generator(params: list[np.ndarray], max_len: int = 20, start_token: int = 0) -> LSTMGenerator:
    """Map SeqGAN's ``TARGET_LSTM`` parameters onto an `LSTMGenerator` that computes the same function.

    SeqGAN's order (``target_lstm.py``), with x [B, E] and h [B, H] as row vectors::

        0 embedding [V, E]
        1-3  Wi [E, H], Ui [H, H], bi [H]     input gate   i  = sigmoid(x Wi + h Ui + bi)
        4-6  Wf, Uf, bf                       forget gate  f  = sigmoid(x Wf + h Uf + bf)
        7-9  Wog, Uog, bog                    output gate  o  = sigmoid(x Wog + h Uog + bog)
        10-12 Wc, Uc, bc                      candidate    c~ = tanh(x Wc + h Uc + bc)
                                              c = f * c_prev + i * c~;  h = o * tanh(c)
        13-14 Wo [H, V], bo [V]               logits = h Wo + bo

    These are torch's LSTM equations; torch stacks the gates in the order (i, f, g = candidate, o) as rows of
    weight_ih [4H, E] and weight_hh [4H, H] and multiplies W @ x, hence the transposes. SeqGAN has one bias per
    gate; torch has two that add up, so bias_hh is zero. Both start from h = c = 0 and feed the start token first.
    """
    if len(params) != 15:
        raise ValueError(f"SeqGAN's oracle has 15 parameter arrays, got {len(params)}")
    emb, Wi, Ui, bi, Wf, Uf, bf, Wo_g, Uo_g, bo_g, Wc, Uc, bc, Wout, bout = (np.asarray(p, np.float32) for p in params)
    V, E = emb.shape
    H = Ui.shape[0]
    expected = {"Wi": (E, H), "Ui": (H, H), "bi": (H,), "Wout": (H, V), "bout": (V,)}
    for name, array in {"Wi": Wi, "Ui": Ui, "bi": bi, "Wout": Wout, "bout": bout}.items():
        if array.shape != expected[name]:
            raise ValueError(f"{name} should have shape {expected[name]}, has {array.shape}")
    for gate in ((Wf, Uf, bf), (Wo_g, Uo_g, bo_g), (Wc, Uc, bc)):
        if tuple(a.shape for a in gate) != ((E, H), (H, H), (H,)):
            raise ValueError("every gate needs W [E, H], U [H, H], b [H]")
    model = LSTMGenerator(
        LSTMGeneratorConfig(vocab_size=V, max_len=max_len, start_token=start_token, embed_dim=E, hidden_dim=H)
    )
    t = torch.from_numpy
    with torch.no_grad():
        model.embedding.weight.copy_(t(emb))
        model.lstm.weight_ih_l0.copy_(t(np.concatenate([Wi.T, Wf.T, Wc.T, Wo_g.T])))  # [4H, E], gates i, f, g, o
        model.lstm.weight_hh_l0.copy_(t(np.concatenate([Ui.T, Uf.T, Uc.T, Uo_g.T])))  # [4H, H]
        model.lstm.bias_ih_l0.copy_(t(np.concatenate([bi, bf, bc, bo_g])))
        model.lstm.bias_hh_l0.zero_()
        model.head.weight.copy_(t(Wout.T))  # [V, H]
        model.head.bias.copy_(t(bout))
    return model.eval()


def load_seqgan_oracle(source: str | Path | bytes, max_len: int = 20,
                       sha256: str | None = SEQGAN_ORACLE_SHA256) -> LSTMGenerator:
    """The papers' oracle (vocabulary 5,000, embedding and hidden 32) from SeqGAN's ``save/target_params_py3.pkl``,
    given as a path (or bytes, or a URL you pass explicitly: nothing is fetched by default), verified against
    the published file's SHA-256 (`sha256=None` skips that, for other oracles), as an `LSTMGenerator` in eval mode."""
    return seqgan_params_to_generator(read_seqgan_params(source, sha256=sha256), max_len=max_len)


def seqgan_oracle_benchmark(
    source: str | Path, n_train: int = 10_000, n_test: int = 10_000, data_seed: int = 1, max_len: int = 20,
    device: torch.device | str | None = None,
) -> tuple[LSTMGenerator, torch.Tensor, torch.Tensor, OracleConfig]:
    """(oracle, train data, test data, config) on the papers' oracle file: sizes read from the file, the data
    sampled as for the kit's oracle (`sample_oracle_data`, seeds `data_seed` for training and
    ``data_seed + 1_000_003`` for test), so the same arguments give the same data on any machine."""
    oracle = load_seqgan_oracle(source, max_len=max_len)
    c = oracle.config
    config = OracleConfig(vocab_size=c.vocab_size, max_len=max_len, embed_dim=c.embed_dim, hidden_dim=c.hidden_dim,
                          n_train=n_train, n_test=n_test, start_token=c.start_token, weight_seed=-1,
                          data_seed=data_seed)
    train = sample_oracle_data(oracle, n_train, seed=data_seed)
    test = sample_oracle_data(oracle, n_test, seed=data_seed + 1_000_003)
    oracle.requires_grad_(False)
    return oracle.to(device or "cpu"), train, test, config
