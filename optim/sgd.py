"""Mini-batch stochastic gradient descent."""

from .base import LR, Optimizer


class SGD(Optimizer):
    r"""Plain (mini-batch) gradient descent: :math:`p \leftarrow p - \eta g`.

    torch: ``torch.optim.SGD(params, lr=lr)``.
    """

    name = "sgd"
    title = "SGD"
    hyperparameters = (LR,)
    rule_latex = r"\theta_t = \theta_{t-1} - \eta\, g_t"
    torch_equivalent = "torch.optim.SGD(lr=lr)"

    def update(self, g, state, p, lr, t):
        return lr * g, state
