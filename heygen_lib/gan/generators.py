"""Generators for text GANs: an LSTM (SeqGAN's), a small Transformer decoder and a VAE with an LSTM decoder.

Every generator writes fixed-length token sequences ``[B, T]`` (``T = config.max_len``, ids in ``[0, vocab_size)``),
starting from ``config.start_token``, and offers the same methods:

    forward(tokens [B,T]) -> logits [B,T,V]     teacher forcing: the inputs are [start, tokens[:, :-1]]
    nll(tokens [B,T]) -> [B]                    mean per-token negative log-likelihood of each sequence
    sample(n, temperature, generator) -> [n,T]  ancestral sampling, no gradient
    rollout(tokens [B,T], n_rollouts) -> [R, T-1, B, T]
                                                Monte-Carlo completions of every prefix tokens[:, :t], t = 1..T-1
    gumbel_sample(n, tau) -> (tokens [n,T], soft one-hots [n,T,V])
                                                relaxed samples that gradients flow through (RelGAN)

Underneath sit two decoding primitives, which the shared code above (and `rewards.rollout_rewards_reference`) use:

    new_state(n) / init_state(tokens) -> state  the decoder state before the first input
    step(inputs [n], state) -> (logits [n,V], state)
                                                consume one token per row, predict the next

A state is a tuple of tensors whose first dimension is the row (LSTM: ``(h, c)``; Transformer: the key/value cache
of every layer), so the shared code can stack, split and copy the states of many sequences without knowing what is
inside them. That is what makes the vectorised rollout below generator-agnostic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from heygen_lib.gan.losses import linear_cross_entropy

State = tuple[torch.Tensor, ...]


# ---------------------------------------------------------------------------------------------------------------
# Sampling from logits
# ---------------------------------------------------------------------------------------------------------------


def sample_from_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw `num_samples` token ids per row from ``softmax(logits / temperature)``; returns LongTensor [n, num_samples].

    ``temperature=0`` means greedy decoding (the argmax, repeated). The draw is by inverse CDF in two levels: the
    softmax, the running sum of its blocks of about sqrt(V) tokens, one uniform number per sample looked up among
    the blocks, then inside the block it fell in. The same distribution as ``torch.multinomial(softmax(logits), 1)``
    at a fraction of its cost on a CPU (one fused softmax and one pass of block sums, where a running sum over the
    whole vocabulary is a slow sequential pass), which matters when a reward computation draws ~200,000 tokens from
    a 5,000-word vocabulary. A token of probability 0 is never drawn. Float64 logits are sampled in float64; the
    logits are left as they are.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True).expand(-1, num_samples)
    n, V = logits.shape
    dtype = torch.promote_types(logits.dtype, torch.float32)  # float32, or float64 for double logits
    probs = torch.softmax(logits.to(dtype) if temperature == 1 else logits.to(dtype) / temperature, dim=-1)
    size = _block_size(V)
    blocks = probs.view(n, V // size, size)
    cdf = blocks.sum(dim=-1).cumsum_(dim=-1)  # [n, blocks]: the mass up to the end of each block
    u = torch.rand(n, num_samples, device=logits.device, dtype=dtype, generator=generator) * cdf[:, -1:]
    u = torch.minimum(u, cdf[:, -1:] * (1 - 1e-6))  # rounding never sends u past the last token of positive mass
    # right=True: the first block (then token) whose cumulative mass exceeds u, so zero mass is never picked.
    block = torch.searchsorted(cdf, u, right=True)  # [n, k]
    before = torch.cat([cdf.new_zeros(n, 1), cdf], dim=1).gather(1, block)  # mass of the blocks before it
    inside = blocks.gather(1, block.unsqueeze(-1).expand(-1, -1, size)).cumsum_(dim=-1)  # [n, k, size]
    rest = torch.minimum(u - before, inside[..., -1] * (1 - 1e-6)).unsqueeze(-1)
    return block * size + torch.searchsorted(inside, rest, right=True).squeeze(-1)


def _block_size(V: int) -> int:
    """The largest divisor of V up to sqrt(V); V itself (one block) when that is 1."""
    size = max(d for d in range(1, math.isqrt(V) + 1) if V % d == 0)
    return size if size > 1 else V


def tempered(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature`` in float32 (or wider); the logits themselves at temperature 1, where dividing would
    cost a full pass over the [B*T, V] logits forward and another backward for nothing (a third of an MLE step on
    SeqGAN's shapes, `benchmarks/mle_speed.py`)."""
    logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    return logits if temperature == 1 else logits / temperature


def gumbel_noise_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel noise ``-log(E)``, E ~ Exp(1), of x's shape, float32."""
    e = torch.empty(x.shape, device=x.device, dtype=torch.float32).exponential_(generator=generator)
    return -e.clamp_(min=torch.finfo(torch.float32).tiny).log()


def flat_cross_entropy(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Per-token cross-entropy of logits [B, T, V] against ids [B, T]: [B, T].

    The logits are flattened to [B*T, V] rows, so the softmax runs along contiguous memory. The equivalent
    ``F.cross_entropy(logits.transpose(1, 2), tokens)`` normalises along a strided axis and made MLE training about
    twice as slow on a CPU (`benchmarks/mle_speed.py` measures both).
    """
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), tokens.reshape(B * T), reduction="none").view(B, T)


# States are tuples of row-first tensors; these three helpers are all the rollout needs to know about them.
def _rows(state: State, start: int, stop: int) -> State:
    return tuple(s[start:stop] for s in state)


def _repeat_rows(state: State, times: int) -> State:
    """Rows [a, b] -> [a, b, a, b, ...]: copy r of row i lands at row r * n + i."""
    return tuple(s.repeat(times, *([1] * (s.dim() - 1))) for s in state)


def _cat_rows(*states: State) -> State:
    return tuple(torch.cat(parts) for parts in zip(*states))


ROLLOUT_CHUNK_ROWS = 512  # rows per step call when a CPU rolls out: [512, 5,000] logits are 10 MB


# ---------------------------------------------------------------------------------------------------------------
# Shared behaviour: sampling, rollouts and Gumbel samples, all written once on top of new_state/init_state/step
# ---------------------------------------------------------------------------------------------------------------


class TextGenerator(nn.Module):
    """What the three generators share. A subclass defines forward, new_state and step (and may override the rest)."""

    config: LSTMGeneratorConfig | TransformerGeneratorConfig | VAEGeneratorConfig

    # -- decoding primitives ------------------------------------------------------------------------------------

    def new_state(self, n: int, generator: torch.Generator | None = None) -> State:
        """The state before the first input for `n` new sequences."""
        raise NotImplementedError

    def init_state(self, tokens: torch.Tensor) -> State:
        """The state before the first input for continuing the sequences `tokens` (only their number matters,
        except for the VAE, which starts each sequence from its own latent code)."""
        return self.new_state(tokens.size(0))

    def step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Consume one token per row (LongTensor [n]); return the next-token logits [n, V] and the new state."""
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def shift_right(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forcing inputs: [start, tokens[:, :-1]]."""
        start = torch.full_like(tokens[:, :1], self.config.start_token)
        return torch.cat([start, tokens[:, :-1]], dim=1)

    def _start_inputs(self, n: int) -> torch.Tensor:
        return torch.full((n,), self.config.start_token, dtype=torch.long, device=self.device)

    # -- the interface ----------------------------------------------------------------------------------------------

    def token_nll(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Negative log-likelihood (nats) of every token under softmax(logits / temperature): [B, T]."""
        return flat_cross_entropy(tempered(self(tokens), temperature), tokens)

    def nll(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Mean per-token negative log-likelihood (nats) of each sequence under softmax(logits / temperature): [B]."""
        return self.token_nll(tokens, temperature).mean(dim=1)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing's last hidden states [B, T, H], which the output layer ``self.head`` turns into logits."""
        raise NotImplementedError

    def mle_loss(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing's loss on a batch: the mean NLL per token, ``self.nll(tokens).mean()``, computed by
        `losses.linear_cross_entropy` from the hidden states without holding the [B*T, V] logits."""
        h = self.features(tokens)
        return linear_cross_entropy(h.reshape(-1, h.size(-1)), self.head.weight, self.head.bias, tokens.reshape(-1))

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` sequences drawn token by token from the model at `temperature` (0 = greedy): LongTensor [n, T].

        Sampling uses the model as it is: call ``.eval()`` first if it has dropout.
        """
        state = self.new_state(n, generator)
        inputs = self._start_inputs(n)
        tokens = torch.empty(n, self.config.max_len, dtype=torch.long, device=self.device)
        for t in range(self.config.max_len):
            logits, state = self.step(inputs, state)
            inputs = sample_from_logits(logits, temperature, generator=generator)[:, 0]
            tokens[:, t] = inputs
        return tokens

    @torch.no_grad()
    def rollout(
        self,
        tokens: torch.Tensor,
        n_rollouts: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Monte-Carlo completions of every prefix of `tokens` [B, T]: LongTensor [R, T-1, B, T].

        ``out[r, t-1, b]`` keeps ``tokens[b, :t]`` and continues it with the model's own samples (rollout r of prefix
        length t). All completions are sampled in one batched computation that loops only over time:

        - the B real sequences are read once, one token per step, so each prefix's state is computed once;
        - at step p the prefix of length p joins: its state is copied R times (rows ordered [rollout, batch]) and
          its R first sampled tokens come from the real sequences' logits at p;
        - the completions that joined earlier consume the token they sampled at step p-1.

        Step p therefore runs the model on B + (p-1)·R·B rows, about half of the (T-1)²·R·B a "complete every
        prefix for all T steps" batch would cost. Rows are kept in the order [prefix length, rollout, batch], so the
        rows still being completed at any step are one contiguous block, and are reordered at the end. The
        completions step in chunks of `ROLLOUT_CHUNK_ROWS` rows, whose [rows, V] logits stay in a CPU's cache while
        they are sampled (each row's state is its own, so chunks change nothing but speed).
        """
        B, T = tokens.shape
        R = n_rollouts
        if T != self.config.max_len:
            raise ValueError(f"tokens must be [B, {self.config.max_len}], got {list(tokens.shape)}")
        tokens = tokens.to(self.device)
        out = tokens.expand(T - 1, R, B, T).clone()  # [prefix length - 1, rollout, batch, position]
        flat = out.view(-1, T)  # row (t-1) * R * B + r * B + b
        chunk = ROLLOUT_CHUNK_ROWS if self.device.type == "cpu" else max(1, flat.size(0))
        # Real sequences: consume the start token; from here on their state predicts tokens[:, p] at step p.
        _, state = self.step(self._start_inputs(B), self.init_state(tokens))
        for p in range(1, T):
            n_old = (p - 1) * R * B  # completions that joined at earlier steps
            logits, real_state = self.step(tokens[:, p - 1], _rows(state, 0, B))  # the B real sequences
            # The prefix of length p joins: R draws per real sequence, laid out [rollout, batch].
            first = sample_from_logits(logits, temperature, num_samples=R, generator=generator)  # [B, R]
            states = [real_state]
            for start in range(0, n_old, chunk):  # the completions: consume the token each drew at step p - 1
                stop = min(start + chunk, n_old)
                logits, part = self.step(flat[start:stop, p - 1], _rows(state, B + start, B + stop))
                flat[start:stop, p] = sample_from_logits(logits, temperature, generator=generator)[:, 0]
                states.append(part)
            flat[n_old : n_old + R * B, p] = first.t().reshape(-1)
            if p < T - 1:
                state = _cat_rows(*states, _repeat_rows(real_state, R))
        return out.transpose(0, 1).contiguous()  # [R, T-1, B, T]

    def gumbel_sample(
        self, n: int, tau: float = 1.0, hard: bool = False, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Relaxed samples (Gumbel-softmax, as in RelGAN): (tokens [n, T], soft one-hots [n, T, V] float32).

        At each step ``y = (logits + g) / tau`` with Gumbel noise g; the token is ``argmax(y)``, an exact sample of
        the model whatever tau is (the Gumbel-max trick), and is the next input. The soft one-hot is
        ``softmax(y)``: it tends to the one-hot as tau -> 0 and carries gradients back to the generator. RelGAN
        writes the same thing with an inverse temperature beta = 1 / tau, annealed from 1 up to beta_max.
        ``hard=True`` returns the exact one-hot in the forward pass with the soft gradient (straight-through).
        """
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        state = self.new_state(n, generator)
        inputs = self._start_inputs(n)
        tokens, soft = [], []
        for _ in range(self.config.max_len):
            logits, state = self.step(inputs, state)
            y = (logits.float() + gumbel_noise_like(logits, generator)) / tau  # [n, V]
            probs = F.softmax(y, dim=-1)
            inputs = y.argmax(dim=-1)
            if hard:
                probs = F.one_hot(inputs, probs.size(-1)).to(probs.dtype) - probs.detach() + probs
            tokens.append(inputs)
            soft.append(probs)
        return torch.stack(tokens, dim=1), torch.stack(soft, dim=1)


# ---------------------------------------------------------------------------------------------------------------
# LSTM generator (SeqGAN; also the oracle)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class LSTMGeneratorConfig:
    """SeqGAN's generator: embedding 32, one LSTM layer of 32 units, a linear layer to the vocabulary."""

    vocab_size: int = 5000
    max_len: int = 20  # T
    start_token: int = 0  # first input; SeqGAN uses id 0, itself a vocabulary word
    embed_dim: int = 32
    hidden_dim: int = 32
    # "small": every weight from N(0, 0.1) and zero biases, as SeqGAN initialises its generator;
    # "normal": every weight and gate bias from N(0, 1), the synthetic oracle of SeqGAN/Texygen (sharp, varied
    #           distributions; with small weights an oracle is close to uniform and its data is noise);
    # "torch": PyTorch's default initialisation.
    init: str = "small"


class LSTMGenerator(TextGenerator):
    """Embedding -> LSTM -> linear head. The state is ``(h, c)``, each [n, hidden_dim]."""

    def __init__(self, config: LSTMGeneratorConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_dim, batch_first=True)
        self.head = nn.Linear(config.hidden_dim, config.vocab_size)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise as ``config.init`` says, drawing in a fixed order from `generator` (the global RNG if None)."""
        init = self.config.init
        if init == "torch":
            self.embedding.reset_parameters()
            self.lstm.reset_parameters()
            self.head.reset_parameters()
            return
        if init not in ("small", "normal"):
            raise ValueError(f"init must be 'small', 'normal' or 'torch', got {init!r}")
        std = 0.1 if init == "small" else 1.0
        for weight in (self.embedding.weight, self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.head.weight):
            weight.normal_(0.0, std, generator=generator)
        # torch's LSTM adds two biases (bias_ih + bias_hh); the papers' LSTM has one per gate, kept in bias_ih.
        self.lstm.bias_hh_l0.zero_()
        if init == "normal":
            self.lstm.bias_ih_l0.normal_(0.0, 1.0, generator=generator)
            self.head.bias.normal_(0.0, 1.0, generator=generator)
        else:
            self.lstm.bias_ih_l0.zero_()
            self.head.bias.zero_()

    def new_state(self, n: int, generator: torch.Generator | None = None) -> State:
        h = torch.zeros(n, self.config.hidden_dim, device=self.device, dtype=self.head.weight.dtype)
        return (h, h.clone())

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> torch.Tensor:
        return self.head(self.features(tokens, state))  # [B, T, V]

    def features(self, tokens: torch.Tensor, state: State | None = None) -> torch.Tensor:
        h0, c0 = state if state is not None else self.new_state(tokens.size(0))
        x = self.embedding(self.shift_right(tokens))  # [B, T, E]
        out, _ = self.lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)))  # [B, T, H]
        return out

    def step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c = state
        out, (h, c) = self.lstm(self.embedding(inputs).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return self.head(out[:, 0]), (h[0], c[0])


# ---------------------------------------------------------------------------------------------------------------
# Transformer generator (a small GPT)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class TransformerGeneratorConfig:
    """A small causal decoder in the style of nanoGPT: learned positions, pre-norm blocks, tied embeddings."""

    vocab_size: int = 5000
    max_len: int = 20  # T; also the number of learned positions
    start_token: int = 0
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64  # must be a multiple of n_head
    dropout: float = 0.0
    tie_weights: bool = True  # the output layer reuses the token embedding (nanoGPT, GPT-2)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees itself and the positions before it.

    ``forward(x, past)`` also returns this call's keys and values; passing them back as `past` with one new
    position (x of length 1) attends over the cache instead of recomputing the prefix.
    """

    def __init__(self, config: TransformerGeneratorConfig):
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head})")
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, L, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (z.view(B, L, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))  # [B, nh, L, hd]
        if past is not None:
            if L != 1:
                raise ValueError("with a key/value cache, feed one position at a time")
            k = torch.cat([past[0], k], dim=2)  # [B, nh, S + 1, hd]
            v = torch.cat([past[1], v], dim=2)
        # One new position attends to the whole cache; a full sequence needs the causal mask.
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=past is None, dropout_p=self.dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).reshape(B, L, C)
        return self.resid_dropout(self.proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, config: TransformerGeneratorConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: TransformerGeneratorConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        a, kv = self.attn(self.ln_1(x), past)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, kv


class TransformerGenerator(TextGenerator):
    """Token + learned position embeddings -> n_layer pre-norm blocks -> final LayerNorm -> head.

    Sampling and rollouts decode with a key/value cache: the state is ``(k_0, v_0, k_1, v_1, ...)``, each
    [n, n_head, positions so far, head size], and every step adds one position. The vectorised rollout copies the
    cache of each prefix R times, so continuing a prefix never recomputes it.
    """

    def __init__(self, config: TransformerGeneratorConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.max_len, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.head.weight = self.wte.weight
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """GPT-2's initialisation: N(0, 0.02), residual projections scaled down by sqrt(2 * n_layer)."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.zero_()
            if isinstance(module, nn.LayerNorm):
                module.reset_parameters()
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                proj.weight.normal_(0.0, 0.02 / math.sqrt(2 * self.config.n_layer))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(tokens))  # [B, T, V]

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        T = tokens.size(1)
        positions = torch.arange(T, device=tokens.device)
        x = self.drop(self.wte(self.shift_right(tokens)) + self.wpe(positions))  # [B, T, C]
        for block in self.blocks:
            x, _ = block(x)
        return self.ln_f(x)

    def new_state(self, n: int, generator: torch.Generator | None = None) -> State:
        return ()  # nothing consumed yet: the first step starts the cache

    def step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        position = state[0].size(2) if state else 0
        x = self.drop(self.wte(inputs) + self.wpe.weight[position]).unsqueeze(1)  # [n, 1, C]
        new_state: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            past = (state[2 * i], state[2 * i + 1]) if state else None
            x, (k, v) = block(x, past)
            new_state += [k, v]
        return self.head(self.ln_f(x[:, 0])), tuple(new_state)


# ---------------------------------------------------------------------------------------------------------------
# VAE generator (Bowman et al. 2016): LSTM encoder -> z -> LSTM decoder
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class VAEGeneratorConfig:
    """A sentence VAE: an LSTM reads the sequence into a Gaussian q(z|x); a second LSTM, started from z, writes it."""

    vocab_size: int = 5000
    max_len: int = 20
    start_token: int = 0
    embed_dim: int = 32  # shared by encoder and decoder
    hidden_dim: int = 64
    latent_dim: int = 16
    init: str = "torch"  # "torch" or "small" (N(0, 0.1) weights, zero biases)


def kl_annealing(
    step: int, total_steps: int, schedule: str = "cyclical", cycles: int = 4, ramp: float = 0.5, max_weight: float = 1.0
) -> float:
    """The weight of the KL term at training `step` of `total_steps` (KL annealing).

    - ``"linear"`` (Bowman et al. 2016): rises from 0 to `max_weight` over the first `ramp` fraction of training,
      then stays there.
    - ``"cyclical"`` (Fu et al. 2019): training splits into `cycles` equal cycles; each rises from 0 to
      `max_weight` over its first `ramp` fraction, then holds. Restarting at 0 lets the decoder learn to use z
      again, which fights posterior collapse (the KL dropping to 0 and z being ignored).
    - ``"constant"``: always `max_weight`.
    """
    if schedule == "constant":
        return max_weight
    if total_steps <= 0 or not 0 < ramp <= 1:
        raise ValueError("need total_steps > 0 and 0 < ramp <= 1")
    if schedule == "linear":
        position = step / total_steps
    elif schedule == "cyclical":
        period = total_steps / cycles
        position = (step % period) / period
    else:
        raise ValueError(f"schedule must be 'linear', 'cyclical' or 'constant', got {schedule!r}")
    return max_weight * min(1.0, position / ramp)


class VAEGenerator(TextGenerator):
    """Embedding -> encoder LSTM -> (mu, logvar) -> z -> (h0, c0) of the decoder LSTM -> linear head.

    - ``forward(tokens)`` decodes with z from q(z|tokens): a reparameterised sample in training mode, the mean in
      eval mode (or pass ``z=``).
    - ``nll(tokens)`` is the ELBO bound per token, ``(E_q[-log p(x|z)] + KL(q(z|x) || p(z))) / T`` from one
      posterior sample: an upper bound on the true NLL in expectation, so it is comparable with the other
      generators' NLL only as a bound (it sits above what the model's exact likelihood would be).
    - ``sample``, ``gumbel_sample`` draw z from the prior N(0, I).
    - ``rollout(tokens)`` continues each sequence with the z it was written from, when known: `sample` remembers
      the z of the batch it returned last, and a rollout of exactly those tokens reuses them. For any other tokens
      (real data, or a batch sampled elsewhere) z is the posterior mean, the encoder's best guess.
    """

    def __init__(self, config: VAEGeneratorConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.encoder = nn.LSTM(config.embed_dim, config.hidden_dim, batch_first=True)
        self.to_posterior = nn.Linear(config.hidden_dim, 2 * config.latent_dim)  # -> (mu, logvar)
        self.latent_to_state = nn.Linear(config.latent_dim, 2 * config.hidden_dim)  # -> (h0, c0)
        self.decoder = nn.LSTM(config.embed_dim, config.hidden_dim, batch_first=True)
        self.head = nn.Linear(config.hidden_dim, config.vocab_size)
        self._last_sample: tuple[torch.Tensor, torch.Tensor] | None = None  # (tokens, z) of the last sample()
        self._prior_z: torch.Tensor | None = None  # the z drawn by the last new_state()
        if config.init == "small":
            with torch.no_grad():
                for name, p in self.named_parameters():
                    p.normal_(0.0, 0.1) if "weight" in name else p.zero_()
        elif config.init != "torch":
            raise ValueError(f"init must be 'torch' or 'small', got {config.init!r}")

    # -- latent code -------------------------------------------------------------------------------------------------

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|tokens): (mu, logvar), each [B, latent_dim]."""
        _, (h, _) = self.encoder(self.embedding(tokens))  # h [1, B, H]: after reading the whole sequence
        mu, logvar = self.to_posterior(h[0]).chunk(2, dim=-1)
        return mu, logvar

    def state_from_z(self, z: torch.Tensor) -> State:
        """The decoder's initial (h0, c0), each [B, H], from z [B, latent_dim]."""
        h0, c0 = self.latent_to_state(z).chunk(2, dim=-1)
        return (torch.tanh(h0).contiguous(), c0.contiguous())

    def z_for(self, tokens: torch.Tensor) -> torch.Tensor:
        """The z to continue `tokens` from: the remembered prior draw if these are the last sampled tokens,
        else the posterior mean."""
        if self._last_sample is not None:
            last_tokens, last_z = self._last_sample
            if last_tokens.shape == tokens.shape and last_tokens.device == tokens.device:
                if torch.equal(last_tokens, tokens):
                    return last_z
        return self.encode(tokens)[0]

    # -- decoding ----------------------------------------------------------------------------------------------------

    def forward(self, tokens: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if z is None:
            mu, logvar = self.encode(tokens)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        h0, c0 = self.state_from_z(z)
        out, _ = self.decoder(self.embedding(self.shift_right(tokens)), (h0.unsqueeze(0), c0.unsqueeze(0)))
        return self.head(out)  # [B, T, V]

    def new_state(self, n: int, generator: torch.Generator | None = None) -> State:
        z = torch.randn(n, self.config.latent_dim, device=self.device, generator=generator)
        self._prior_z = z
        return self.state_from_z(z.to(self.head.weight.dtype))

    def init_state(self, tokens: torch.Tensor) -> State:
        return self.state_from_z(self.z_for(tokens))

    def step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c = state
        out, (h, c) = self.decoder(self.embedding(inputs).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return self.head(out[:, 0]), (h[0], c[0])

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        tokens = super().sample(n, temperature, generator)
        self._last_sample = (tokens, self._prior_z)
        return tokens

    # -- objective ---------------------------------------------------------------------------------------------------

    def _elbo_terms(self, tokens: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sequence: reconstruction -log p(x|z) summed over tokens (decoder softmax at `temperature`), and
        KL(q(z|x) || N(0, I)); each [B]."""
        mu, logvar = self.encode(tokens)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterisation: gradients reach mu, logvar
        recon = flat_cross_entropy(tempered(self(tokens, z=z), temperature), tokens).sum(dim=1)
        kl = 0.5 * (mu.float().pow(2) + logvar.float().exp() - 1.0 - logvar.float()).sum(dim=1)
        return recon, kl

    def elbo_loss(self, tokens: torch.Tensor, kl_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction, weighted KL), both per token and averaged over the batch: minimise their sum.

        The KL comes back already multiplied by `kl_weight` (see `kl_annealing()` for schedules), so
        ``sum(vae.elbo_loss(x, w))`` is the loss; call with ``kl_weight=1`` to read the KL itself.
        """
        recon, kl = self._elbo_terms(tokens)
        T = tokens.size(1)
        return recon.mean() / T, kl_weight * kl.mean() / T

    def mle_loss(self, tokens: torch.Tensor) -> torch.Tensor:
        """The negative ELBO per token, averaged over the batch (with the KL at full weight)."""
        return sum(self.elbo_loss(tokens))

    def nll(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """The negative ELBO per token of each sequence, [B]: a (one-sample) upper bound on its NLL. Never the
        reconstruction alone: decoding from the posterior of the very sequence being scored would leak it."""
        recon, kl = self._elbo_terms(tokens, temperature)
        return (recon + kl) / tokens.size(1)
