"""Pretraining and fine-tuning language models on dialogue (notebook 05), in layers that import downwards only:

- `dialogue_format` (special tokens, prompt and target), `rows` (one pair per training row, the loss mask) and
  `hf_training` (the plumbing of transformers' Trainer: arguments across versions, precision, the non-finite stop);
- `pretrain` (the small GPT-2 the kit pretrains on Chit-Chat) and `standin` (the shipped result, checked on load);
- `finetune` (the base model, loading, freezing, early stopping, saving), `evaluate` (perplexity, generation,
  response metrics), `lora`;
- `compare` (runs that differ in one thing, degenerate replies), `replies` (the reply targets over seeds),
  `learning_curve` (real against made-up data at several sizes, the exchange rate), `curves` (loss curves with the
  stop marked), `widget` (the notebook's panel).
"""
