"""Pretraining and fine-tuning language models on dialogue (notebook 05).

`pretrain` (the small GPT-2 the kit pretrains offline on Chit-Chat, cached by manifest), `dialogue_format` (special
tokens, prompt and target), `rows` (one pair per training row, the loss mask), `finetune` (the base model, loading,
Trainer, freezing, early stopping, saving), `evaluate` (perplexity, generation, response metrics), `compare` (runs
that differ in one thing, degenerate replies), `ablation` (real vs augmented vs GAN data over seeds), `curves` (loss
curves with the stop marked), `widget` (the notebook's panel).
"""
