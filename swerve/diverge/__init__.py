"""Ways to diverge from the data, one module per category of Broad et al.'s survey (ICCC 2021).

Diverge while making (categories 1-3), one module per idea:

- ``novelty``: latent novelty search with an archive (evolution or gradient ascent, optional quality floor);
- ``sparse_ae`` and ``digits_not``: *Digits that are not*, fixed points of a winner-take-all autoencoder;
- ``iterated``: iterated learning on the model's own (novelty-filtered) samples;
- ``inspiring``: held-out-class training and the out-of-class harness;
- ``can``: the Creative Adversarial Network (trainer task ``kind="can"``);
- ``nodata``: training without data, two generators and a discriminator (``kind="nodata"``);
- ``compare``: every method's samples measured next to an undiverged baseline; ``report``: demo sections.
"""
