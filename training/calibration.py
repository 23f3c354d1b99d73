"""Temperature scaling, fitted on the dev split after training (Guo et al., 2017).

Follows the scikit-learn estimator contract: ``fit`` returns self, the learned value ends in ``_``.
"""

from __future__ import annotations

import numpy as np
import torch


class TemperatureScaler:
    """Find the temperature T that minimises the negative log-likelihood of softmax(logits / T).

    Example:
        >>> import numpy as np
        >>> ts = TemperatureScaler().fit(np.array([[4.0, 0.0], [4.0, 0.0]]), np.array([0, 1]))
        >>> ts.temperature_ > 1  # overconfident logits are softened
        True
    """

    def __init__(self, max_iter: int = 200) -> None:
        self.max_iter = max_iter

    def fit(self, logits: np.ndarray, labels: np.ndarray) -> TemperatureScaler:
        x = torch.tensor(logits, dtype=torch.float64)
        y = torch.tensor(labels, dtype=torch.long)
        log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=self.max_iter)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
            loss.backward()
            return loss

        optimizer.step(closure)
        # Clamp to the range the model loader accepts; a degenerate dev set must not yield 0 or inf.
        self.temperature_ = float(np.clip(log_t.exp().item(), 0.05, 20.0))
        return self
