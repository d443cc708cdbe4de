"""Text GANs: generators (LSTM, Transformer, VAE), discriminators (CNN, MLP, LSTM), GAN losses, SeqGAN rollout
rewards, the synthetic-oracle benchmark, training (MLE, SeqGAN, Gumbel-softmax) and evaluation.

Modules: `generators`, `discriminators`, `losses`, `rewards`, `oracle`, `training`, `evaluation`, `text_data`.
"""
