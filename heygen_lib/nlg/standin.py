"""The small GPT-2 the kit ships: pretrained once on Chit-Chat by the kit's own command, checked on every load.

Pretraining it takes tens of minutes on 2 CPU cores, too long to repeat on every fresh machine, CI run or Colab CPU
runtime, so its weights (half precision, a few MB) live in the package beside a manifest and a model card
(``heygen_lib/standin/``). Loading never trusts the folder blindly: `check` compares the manifest with the kit as it
is now (the pretraining config's defaults, the hashes of the corpus files, of the tokenizer and of the weights), and
`standin_dir` refuses a stand-in that differs, naming the field and the command that rebuilds it, instead of
teaching a lesson with a model the kit's code did not make.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from heygen_lib.nlg.pretrain import (MANIFEST, TOKENIZER, WEIGHTS, PretrainConfig, file_sha256, loss_to_perplexity,
                                     read_manifest, rebuilt_dir, source_hashes)
from heygen_lib.paths import shown_path

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "standin"
CARD = "MODEL_CARD.md"
REBUILD = "python -m heygen_lib.nlg.pretrain"


class StaleStandIn(RuntimeError):
    """The stand-in on disk was not made from the kit's current corpus and config. Shown as one line in Jupyter
    (IPython's ``_render_traceback_`` hook) and at the command line."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def check(folder: str | Path, config: PretrainConfig | None = None) -> list[str]:
    """What differs between the stand-in in `folder` and the one the kit's code and data would build, one line per
    field (empty: it matches). Reads the manifest and hashes three files; no corpus is rebuilt."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return [f"{shown_path(folder)} holds no complete stand-in (no {MANIFEST})"]
    wanted = asdict(config or PretrainConfig())
    found = [f"config.{key}: {manifest['config'].get(key)!r} in the manifest, {value!r} in PretrainConfig"
             for key, value in wanted.items() if manifest["config"].get(key) != value]
    for name, digest in source_hashes().items():
        if manifest["sources"].get(name) != digest:
            found.append(f"corpus file {name}: its SHA-256 is not the one the stand-in was built from")
    for key, file in (("tokenizer_sha256", TOKENIZER), ("weights_sha256", WEIGHTS)):
        if not (folder / file).is_file() or manifest.get(key) != file_sha256(folder / file):
            found.append(f"{file}: missing or not the file the manifest names ({key})")
    return found


def standin_dir(config: PretrainConfig | None = None) -> Path:
    """The folder of a stand-in that matches the kit (`check`): the shipped one, else one rebuilt into
    ``artifacts/pretrained``. Raises `StaleStandIn` naming what differs and how to rebuild when neither matches."""
    problems = check(SHIPPED_DIR, config)
    if not problems:
        return SHIPPED_DIR
    if not check(rebuilt_dir(), config):
        return rebuilt_dir()
    raise StaleStandIn(f"the shipped stand-in does not match the kit ({'; '.join(problems)}); rebuild it with "
                       f"`{REBUILD}` (tens of minutes on 2 CPU cores) into {shown_path(rebuilt_dir())}")


def card(manifest: dict) -> str:
    """The model card of a built stand-in, from its manifest: what it is, what it saw, how to rebuild it, and
    what it is not."""
    config, history = manifest["config"], manifest["history"]
    train = [r for r in history if r["phase"] == "train"]
    dev = [r for r in history if r["phase"] == "dev"]
    machine = manifest["machine"]
    sources = "\n".join(f"  - `{name}`: SHA-256 `{digest}`" for name, digest in manifest["sources"].items())
    shape = (f"{config['layers']} blocks, {config['d_model']} wide, {config['heads']} heads, a window of "
             f"{config['block_size']} tokens")
    return f"""# Model card: the kit's pretrained stand-in

A small GPT-2 ({manifest['parameters']:,} parameters; {shape}) pretrained by the kit from scratch on
open-domain conversation. It **stands in for distilgpt2** (82M parameters, pretrained on billions of tokens) where no GPU and no
model hub are at hand: notebooks 04-06 fine-tune it in the smoke profile. It is **not a support agent**: it has
never read a support reply, and after fine-tuning on 689 of them it writes short support-style replies, often
generic, sometimes ungrammatical.

## Data
- Chit-Chat Challenge (BYU PCC lab, MIT licence; package `chitchat-dataset`): every conversation, cleaned by the
  kit (`heygen_lib.data.cleaning`) and rendered in the kit's dialogue format, is what the model trains on. The
  first {config['dev_blocks']} blocks of {config['block_size']} tokens are held out (never trained on).
- The Brightcart support set's **training** conversations (MIT; `data/support_dialogues.jsonl`) are read by the
  tokenizer only, never by the model; its dev and test conversations by neither.
- Files, as hashed when the stand-in was built:
{sources}
- Corpus as trained on (the formatted texts): SHA-256 `{manifest['corpus_sha256']}`.

## Tokenizer and model
- Byte-level BPE, {config['vocab_size']:,} entries at most, trained on the texts above; `tokenizer.json` SHA-256
  `{manifest['tokenizer_sha256']}`.
- GPT-2 architecture: {shape}; dropout {config['dropout']}.
- Weights stored in half precision (`model.safetensors`, SHA-256 `{manifest['weights_sha256']}`), loaded as
  fp32.

## Training
- {manifest['steps']:,} optimizer steps of {config['batch_size']} blocks x {config['block_size']} tokens:
  {manifest['tokens']:,} tokens, {manifest['epochs']} passes over the {manifest['train_blocks']:,} training blocks.
- AdamW, peak learning rate {config['learning_rate']}, warm-up {config['warmup_ratio']:.0%} of the steps, cosine
  decay, weight decay {config['weight_decay']}; seed {config['seed']} (weights and data order).
- Training loss: {train[0]['loss']:.3f} at step {train[0]['step']}, {train[-1]['loss']:.3f} at step {train[-1]['step']}.
- Held-out loss: {dev[0]['loss']:.3f} (perplexity {loss_to_perplexity(dev[0]['loss']):,.0f}) before training,
  {manifest['dev_loss']:.3f} (perplexity {loss_to_perplexity(manifest['dev_loss']):.1f}) for the weights as stored.
- Built on {machine['device']}, {machine['cores']} cores, {machine['torch_threads']} torch threads, torch
  {machine['torch']}, transformers {machine['transformers']}: {manifest['seconds'] / 60:.0f} minutes of wall time on
  that machine as it was (shared with other work, so an idle one is faster).

## Rebuild and checks
- `{REBUILD}` rebuilds it into `artifacts/pretrained/` from `PretrainConfig`'s defaults; the kit uses
  that folder when the shipped one no longer matches. `{REBUILD} --out heygen_lib/standin` replaces
  the shipped one (then `python -m heygen_lib.nlg.standin` writes this card).
- Every load checks `{MANIFEST}` against the kit: the config, the corpus files' hashes, the tokenizer's and the
  weights' hashes (`heygen_lib.nlg.standin.check`). A mismatch stops with the field that differs.
- The tests rebuild the first {len(manifest['first_losses'])} steps and match the recorded losses, and reproduce
  the held-out loss of the stored weights (`tests/test_nlg_standin.py`).
- How this recipe was chosen: `notebooks/results/stand_in_sweep.md`.
"""


def main() -> None:
    """``python -m heygen_lib.nlg.standin``: write the shipped stand-in's model card from its manifest and check it."""
    manifest = read_manifest(SHIPPED_DIR)
    if manifest is None:
        raise SystemExit(f"error: {shown_path(SHIPPED_DIR)} holds no stand-in; build one with `{REBUILD} --out "
                         f"heygen_lib/standin`")
    (SHIPPED_DIR / CARD).write_text(card(manifest), encoding="utf-8")
    problems = check(SHIPPED_DIR)
    print(f"{shown_path(SHIPPED_DIR / CARD)} written; " + ("the stand-in matches the kit" if not problems else
                                                          "it does NOT match the kit: " + "; ".join(problems)))


if __name__ == "__main__":
    main()
