"""Adam: momentum and RMSProp together, with bias correction."""

from .base import EPS, LR, Optimizer, _beta

BETA1 = _beta("beta1", 0.9, "decay rate of the moving average of gradients (first moment)", r"\beta_1")
BETA2 = _beta("beta2", 0.999, "decay rate of the moving average of squared gradients (second moment)", r"\beta_2")


def adam_direction(opt, g, m, s, t, scale):
    """Return ``(scale * m_hat / (sqrt(s_hat) + eps), m, s)`` after folding ``g`` into the moments.

    Shared by Adam and AdamW, which differ only in the weight-decay term.
    ``t`` is the number of updates so far, counting this one (not the epoch).
    """
    b1, b2 = opt.beta1, opt.beta2
    # b1 m + (1 - b1) g written as b1 (m - g) + g: the same value, no temporary array
    m -= g
    m *= b1
    m += g
    gg = g * g
    gg *= 1.0 - b2
    s *= b2
    s += gg
    # m_hat / (sqrt(s_hat) + eps) = m * sqrt(c2) / (sqrt(s) + eps * sqrt(c2)) / c1, with c = 1 - beta^t:
    # the same value with one pass less over the array
    root_c2 = (1.0 - b2**t) ** 0.5
    denom = s**0.5
    denom += opt.eps * root_c2
    d = m / denom
    d *= scale * root_c2 / (1.0 - b1**t)
    return d, m, s


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), eps outside the square root.

    :math:`m_t = \beta_1 m + (1-\beta_1) g`, :math:`s_t = \beta_2 s + (1-\beta_2) g^2`,
    :math:`\hat m = m_t/(1-\beta_1^t)`, :math:`\hat s = s_t/(1-\beta_2^t)`,
    :math:`p \leftarrow p - \eta \hat m / (\sqrt{\hat s} + \epsilon)`; ``t`` is the step count.

    torch: ``torch.optim.Adam(lr=lr, betas=(beta1, beta2), eps=eps)``.
    """

    name = "adam"
    title = "Adam"
    hyperparameters = (LR, BETA1, BETA2, EPS)
    rule_latex = (
        r"\begin{aligned} m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\"
        r" s_t &= \beta_2 s_{t-1} + (1-\beta_2)\, g_t^2 \\"
        r" \hat m_t &= \frac{m_t}{1-\beta_1^t}, \quad \hat s_t = \frac{s_t}{1-\beta_2^t} \\"
        r" \theta_t &= \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat s_t} + \epsilon}\end{aligned}"
    )
    state_names = ("m", "s")
    torch_equivalent = "torch.optim.Adam(lr=lr, betas=(beta1, beta2), eps=eps)"

    def update(self, g, state, p, lr, t):
        d, m, s = adam_direction(self, g, state[0], state[1], t, lr)
        return d, (m, s)
