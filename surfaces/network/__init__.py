"""The article's network beside the surfaces: the MLP, its data sets, and the experiment that compares optimizers.

``mlp`` holds the network, its hand-written gradients, ``train`` and the
per-epoch ``History``; ``datasets`` the binary tasks (generated, bundled,
uploaded CSV), each declared once; ``experiment`` the ``Experiment`` value,
the one training driver ``run`` and its ``Training`` result, the cost
estimate, and the article's protocol. They share only the mini-batch sampler
(``surfaces.batches``) with the analytic surfaces. Imported on their own:
``from surfaces.network.experiment import run``.
"""
