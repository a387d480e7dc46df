"""fastgrad: loss and gradient of linear and logistic regression in one pass over X.

    >>> import numpy as np, fastgrad
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]]); y = np.array([1.0, 2.0])
    >>> loss, g = fastgrad.value_and_grad(X, y, np.zeros(2))
    >>> loss, g.tolist()
    (1.25, [-3.5, -5.0])
"""
from ._api import explain, grad, hessp, value_and_grad
from ._config import show_config
from ._objective import Objective

__version__ = "0.1.0"

__all__ = ["value_and_grad", "grad", "hessp", "Objective", "explain", "show_config",
           "__version__"]
