"""Fine-tuning pretrained language models on (context, response) pairs (notebook 05)."""
