"""The dialogue GAN (notebook 04): a conditional generator writes responses to real contexts, a pair discriminator
judges them, adversarial training follows Li et al. 2017, and the best generated pairs go to people for review.

Modules: `data` (encoding pairs, detokenizing), `generator` (LSTM seq2seq), `discriminator` (pair classifier),
`negatives` (what the discriminator learns to reject), `training` (MLE, discriminator, adversarial REINFORCE),
`evaluation` (MLE vs adversarial on held-out contexts), `export` (synthetic candidates with provenance), `review`
(the append-only review store), `review_widget` and `panels` (notebook widgets).
"""
