"""fastgrad.sklearn: scikit-learn's own linear models on the one-pass core.

    import fastgrad.sklearn
    fastgrad.sklearn.patch()            # LogisticRegression, TweedieRegressor, ... now
    ...                                 # compute their loss and gradient with fastgrad
    fastgrad.sklearn.unpatch()

or ``with fastgrad.sklearn.patched(): ...``, or ``python -m fastgrad.sklearn script.py``.

The patch replaces, at class level, ``loss``, ``loss_gradient``, ``gradient`` and
``gradient_hessian_product`` of scikit-learn's ``LinearModelLoss`` (the objective
behind ``LogisticRegression`` with lbfgs and newton-cg, ``TweedieRegressor`` and
friends with lbfgs, and their CV variants).  Calls it does not serve go to
scikit-learn's own methods and are counted by reason in :func:`stats`.
"""
from ._patch import (LOSS_TABLE, REASONS, is_patched, patch, patched, reset_stats, stats,
                     unpatch)

__all__ = ["patch", "unpatch", "is_patched", "patched", "stats", "reset_stats",
           "LOSS_TABLE", "REASONS"]
