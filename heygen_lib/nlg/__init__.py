"""Fine-tuning pretrained language models on (context, response) pairs (notebook 05).

`dialogue_format` (special tokens, prompt and target), `rows` (one pair per training row, the loss mask), `finetune`
(loading, Trainer, freezing, early stopping, saving), `evaluate` (perplexity, generation, response metrics),
`ablation` (real vs augmented vs GAN data), `widget` (the notebook's panel).
"""
