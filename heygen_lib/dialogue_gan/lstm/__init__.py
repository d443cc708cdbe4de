"""The dialogue GAN from scratch, notebook 04's contrast to the pretrained LM: an LSTM encoder-decoder generator
(`generator`), an LSTM pair discriminator (`discriminator`), MLE then adversarial REINFORCE after Li et al. 2017
(`training`), measurements on held-out contexts (`evaluation`) and its export of candidates (`export`). It shares the
id tensors (`dialogue_gan.data`), the negatives (`dialogue_gan.negatives`) and the export's filters and report
(`dialogue_gan.export`) with the LM path.
"""
