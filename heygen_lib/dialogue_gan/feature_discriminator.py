"""A pair discriminator on a pretrained model's representations: is this response real *for this context*?

The LSTM-era discriminator (`discriminator.PairDiscriminator`) learned its own word embeddings from 689 pairs and
barely beat chance on held-out pairs. Here the reading is done by a model that already knows the language, and a
small classifier learns on top of its features:

- `LMPairFeatures`: the MLE-fine-tuned causal LM itself reads context + response (one forward pass, which the
  adversarial trainer needs anyway for the KL term), and the classifier sees a few **scalar readings** of it: how
  surprised the model was by the response (mean token NLL), the response's length and whether it ended, how close
  the mean last hidden state of the response is to that of the context (cosine and distance), and beside them
  `overlap_features`, the content words the response shares with its context (a real answer picks up the
  customer's own words: the order, the product, the problem; another dialogue's answer rarely does). Not the
  hidden vectors themselves: hundreds of numbers per pair let a small classifier learn 689 training pairs by heart,
  and the model that produces them was fine-tuned on those very pairs, so it reads them more easily than any new
  one; the classifier then calls new real replies fake. The held-out check catches it
  (`benchmarks/discriminator_features.py` measures both: `notebooks/results/discriminator_features.md`);
- `EncoderPairFeatures`: the all-MiniLM-L6-v2 sentence encoder the kit ships (notebook 02's filters), one vector for
  the context and one for the response. It never saw the generator's training, so a discriminator on it is the
  independent judge.

The encoder gives ``[c, r, c * r, |c - r|]`` (the comparison features of InferSent, Conneau et al. 2017): its
vectors come from a model that never saw these pairs. Either set goes to `FeatureDiscriminator`: standardise, one
hidden layer, one logit. Its loss is the balanced binary cross-entropy

    L(D) = -1/2 E_real[log D(x, y)] - 1/2 E_neg[log(1 - D(x, y'))]

with the negatives of `negatives`: generated, mismatched (a real response from another dialogue) and reversed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from heygen_lib.augment.reversal import WordReversal, WordReversalConfig
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.readings import FUNCTION_WORDS
from heygen_lib.dialogue_gan import lm_policy
from heygen_lib.dialogue_gan.negatives import KINDS, mismatched_indices
from heygen_lib.text import word_tokens
from heygen_lib.torch_utils import eval_mode

Contexts = Sequence[Sequence[Turn]]


# The held-out balanced accuracy a discriminator needs before its probability may serve as a reward: clearly above
# chance (0.5), with room for the held-out pairs' sampling noise (80 dev pairs: about +-0.05 at two standard errors).
MIN_HELD_OUT_BALANCED = 0.7


class DiscriminatorAtChance(RuntimeError):
    """The discriminator cannot tell real pairs from negatives on held-out data: its reward would be noise."""


def context_text(context: Sequence[Turn]) -> str:
    """The context as one text for a sentence encoder: ``speaker: text`` per turn."""
    return "\n".join(f"{t.speaker}: {t.text}" for t in context)


def _compare(c: torch.Tensor, r: torch.Tensor, *extras: torch.Tensor) -> torch.Tensor:
    return torch.cat([c, r, c * r, (c - r).abs(), *extras], dim=-1)


def content_words(text: str) -> set[str]:
    """The words of `text` that carry its topic: lower-cased, no punctuation, no function words ("the", "can")."""
    return {w for w in word_tokens(text) if w[0].isalnum() and w not in FUNCTION_WORDS}


def overlap_features(contexts: Contexts, texts: Sequence[str]) -> torch.Tensor:
    """What each response shares with its context in content words: [B, 4] = (share of the response's content
    words found in the context, share of the context's found in the response, share of the response's found in the
    last turn, 1 if any is shared). No model reads these; they are what tells a real answer from another
    dialogue's fluent one when the LM's states cannot (module docstring)."""
    rows = []
    for context, text in zip(contexts, texts, strict=True):
        said = set().union(*(content_words(turn.text) for turn in context))  # the turns' words, not speaker names
        answer, last = content_words(text), content_words(context[-1].text)
        shared = len(said & answer)
        rows.append([shared / max(len(answer), 1), shared / max(len(said), 1),
                     len(last & answer) / max(len(answer), 1), float(shared > 0)])
    return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), 4)


class LMPairFeatures:
    """Features of (context, response) pairs read by a frozen causal LM (see the module docstring)."""

    def __init__(self, model, tokenizer, max_prompt: int, max_tokens: int, batch_size: int = 32):
        self.model, self.tokenizer = model, tokenizer
        self.max_prompt, self.max_tokens, self.batch_size = max_prompt, max_tokens, batch_size

    def from_output(self, output, prompts: lm_policy.Prompts, responses: lm_policy.Responses,
                    contexts: Contexts) -> torch.Tensor:
        """Features from a forward pass already made (`lm_policy.forward(..., hidden=True)`) on `contexts`' prompts:
        [B, 9]. The overlap reads the response as the model saw it (cut to `max_tokens`)."""
        hidden = output.hidden_states[-1].float()  # [B, P + T, H]
        p = prompts.ids.size(1)
        pm = prompts.mask.to(hidden.device, hidden.dtype)[:, :, None]
        rm = responses.mask.to(hidden.device, hidden.dtype)[:, :, None]
        c = (hidden[:, :p] * pm).sum(1) / pm.sum(1).clamp(min=1)
        r = (hidden[:, p:] * rm).sum(1) / rm.sum(1).clamp(min=1)
        lengths = responses.lengths.to(hidden.device).float()
        nll = -lm_policy.token_log_probs(output.logits, responses).sum(1) / lengths.clamp(min=1)
        ended = (responses.ids.to(hidden.device) == self.tokenizer.eos_token_id).any(1).float()
        overlap = overlap_features(contexts, lm_policy.decode(self.tokenizer, responses)).to(hidden.device)
        close = torch.stack([F.cosine_similarity(c, r, dim=-1), (c - r).norm(dim=-1)], dim=-1)
        return torch.cat([nll[:, None], torch.log1p(lengths)[:, None], ended[:, None], close, overlap],
                         dim=-1).detach().cpu()

    @torch.no_grad()
    def __call__(self, contexts: Contexts, texts: Sequence[str]) -> torch.Tensor:
        out = []
        with eval_mode(self.model):
            for start in range(0, len(texts), self.batch_size):
                batch = contexts[start : start + self.batch_size]
                prompts = lm_policy.encode_prompts(self.tokenizer, batch, self.max_prompt)
                responses = lm_policy.encode_responses(self.tokenizer, texts[start : start + self.batch_size],
                                                       self.max_tokens)
                out.append(self.from_output(lm_policy.forward(self.model, prompts, responses, hidden=True), prompts,
                                            responses, batch))
        return torch.cat(out)


class EncoderPairFeatures:
    """Features of (context, response) pairs from a sentence encoder (`heygen_lib.metrics.SentenceEncoder`, which
    remembers the texts it has encoded: contexts and real replies repeat): the context's and the response's
    embeddings compared."""

    def __init__(self, encoder):
        self.encoder = encoder

    def __call__(self, contexts: Contexts, texts: Sequence[str]) -> torch.Tensor:
        return _compare(self.encoder.encode([context_text(c) for c in contexts]), self.encoder.encode(list(texts)))


def reversed_text(text: str) -> str | None:
    """The response with its words reversed within each sentence (notebook 02's reversal), or None where that
    changes nothing (one word, a palindrome)."""
    out = WordReversal(WordReversalConfig(per_sentence=True)).augment([text], random.Random(0))[0]
    return out if out is not None and out.strip() != text.strip() else None


@dataclass(frozen=True)
class LabelledPairs:
    """Pairs by kind ("real" and the negative kinds), as (contexts, response texts)."""

    kinds: dict[str, tuple[list[Sequence[Turn]], list[str]]]

    def counts(self) -> dict[str, int]:
        return {kind: len(texts) for kind, (_, texts) in self.kinds.items()}


def labelled_pairs(pairs: Sequence, generated: Sequence[str], seed: int = 0) -> LabelledPairs:
    """Real pairs and one negative of each kind per pair: the generator's response `generated[i]` to pair i's
    context, a real response from another dialogue (mismatched), and the true response reversed (where reversal
    changes it)."""
    if len(generated) != len(pairs):
        raise ValueError(f"need one generated response per pair, got {len(generated)} for {len(pairs)} pairs")
    contexts = [p.context for p in pairs]
    texts = [p.response.text for p in pairs]
    others = mismatched_indices([p.dialogue_id for p in pairs], torch.arange(len(pairs)),
                                torch.Generator().manual_seed(seed)).tolist()
    flipped = [(c, r) for c, r in zip(contexts, map(reversed_text, texts)) if r is not None]
    return LabelledPairs({
        "real": (list(contexts), list(texts)),
        "generated": (list(contexts), list(generated)),
        "mismatched": (list(contexts), [texts[j] for j in others]),
        "reversed": ([c for c, _ in flipped], [r for _, r in flipped]),
    })


def featurize(features, labelled: LabelledPairs) -> dict[str, torch.Tensor]:
    """kind -> feature rows, through `features` (an `LMPairFeatures` or `EncoderPairFeatures`)."""
    return {kind: features(contexts, texts) for kind, (contexts, texts) in labelled.kinds.items() if texts}


class FeatureDiscriminator(nn.Module):
    """features [B, F] -> logit [B]: standardised with the training features' mean and spread, one hidden layer."""

    def __init__(self, n_features: int, hidden: int = 64, dropout: float = 0.2):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def set_scale(self, features: torch.Tensor) -> None:
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp(min=1e-4))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features.to(self.mean.device) - self.mean) / self.std).squeeze(-1)

    @torch.no_grad()
    def probability(self, features: torch.Tensor) -> torch.Tensor:
        """P(real) per row, without dropout (the mode is restored): [B] on the CPU."""
        with eval_mode(self):
            return torch.sigmoid(self(features)).cpu()


def discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """The balanced BCE of the module docstring: real and negative pairs weigh half each, however many there are."""
    real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
    return (real + fake) / 2


def fit_discriminator(features: Mapping[str, torch.Tensor], steps: int = 300, lr: float = 3e-3,
                      weight_decay: float = 1e-3, batch_size: int = 64, hidden: int = 64, seed: int = 0,
                      ) -> tuple[FeatureDiscriminator, list[float]]:
    """A `FeatureDiscriminator` trained on kind -> features ("real" against every other kind, each negative kind
    drawn equally often); returns it and its loss per step."""
    negatives = [features[k] for k in KINDS if k in features and len(features[k])]
    real = features["real"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FeatureDiscriminator(real.size(1), hidden)
        model.set_scale(torch.cat([real, *negatives]))
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        rng = torch.Generator().manual_seed(seed)
        losses = []
        model.train()
        for _ in range(steps):
            r = real[torch.randint(len(real), (batch_size,), generator=rng)]
            f = torch.cat([n[torch.randint(len(n), (batch_size // len(negatives) + 1,), generator=rng)]
                           for n in negatives])
            loss = discriminator_loss(model(r), model(f))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return model.eval(), losses


def accuracy_by_kind(model: FeatureDiscriminator, features: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Share judged correctly per kind (real: judged real; a negative kind: judged fake), and ``balanced``: the mean
    of the real accuracy and the mean negative accuracy (0.5 is chance, whatever the class sizes)."""
    out = {kind: float(((model.probability(f) > 0.5) == (kind == "real")).float().mean())
           for kind, f in features.items()}
    negatives = [out[k] for k in KINDS if k in out]
    out["balanced"] = (out["real"] + sum(negatives) / len(negatives)) / 2
    return out


def require_learned(report: Mapping[str, float], min_balanced: float) -> None:
    """Stop with `DiscriminatorAtChance` when the held-out balanced accuracy is below `min_balanced`: a reward from
    a discriminator that cannot tell real from fake would push the generator at random."""
    if not report["balanced"] >= min_balanced:
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in report.items() if k != "balanced")
        raise DiscriminatorAtChance(
            f"the discriminator's held-out balanced accuracy is {report['balanced']:.3f} (needs >= {min_balanced}; "
            f"0.5 is chance; by kind: {kinds}), so its reward would be noise: adversarial training stops here. "
            "Train it longer, give it more pairs, or use richer features.")
