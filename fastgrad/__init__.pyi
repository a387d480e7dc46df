from typing import Any, Literal, Optional, Tuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str
__all__: list[str]

_Loss = Literal["squared", "logistic", "multinomial", "poisson", "gamma", "tweedie"]
_Reduction = Literal["mean", "sum"]
_Backend = Literal["auto", "native", "numpy"]

def value_and_grad(
    X: ArrayLike, y: ArrayLike, coef: ArrayLike, *, loss: _Loss = ...,
    fit_intercept: bool = ..., sample_weight: Optional[ArrayLike] = ..., l2: float = ...,
    reduction: _Reduction = ..., rows: Optional[ArrayLike] = ...,
    out: Optional[NDArray[np.floating]] = ..., n_threads: Optional[int] = ...,
    backend: _Backend = ..., power: Optional[float] = ...,
) -> Tuple[float, NDArray[np.floating]]: ...
def grad(
    X: ArrayLike, y: ArrayLike, coef: ArrayLike, *, loss: _Loss = ...,
    fit_intercept: bool = ..., sample_weight: Optional[ArrayLike] = ..., l2: float = ...,
    reduction: _Reduction = ..., rows: Optional[ArrayLike] = ...,
    out: Optional[NDArray[np.floating]] = ..., n_threads: Optional[int] = ...,
    backend: _Backend = ..., power: Optional[float] = ...,
) -> NDArray[np.floating]: ...
def hessp(
    X: ArrayLike, y: ArrayLike, coef: ArrayLike, v: ArrayLike, *, loss: _Loss = ...,
    fit_intercept: bool = ..., sample_weight: Optional[ArrayLike] = ..., l2: float = ...,
    reduction: _Reduction = ..., rows: Optional[ArrayLike] = ...,
    out: Optional[NDArray[np.floating]] = ..., n_threads: Optional[int] = ...,
    backend: _Backend = ..., power: Optional[float] = ...,
) -> NDArray[np.floating]: ...
def explain(
    X: ArrayLike, y: ArrayLike, coef: ArrayLike, *,
    op: Literal["value_and_grad", "grad", "hessp"] = ..., v: Optional[ArrayLike] = ...,
    loss: _Loss = ..., fit_intercept: bool = ..., sample_weight: Optional[ArrayLike] = ...,
    l2: float = ..., reduction: _Reduction = ..., rows: Optional[ArrayLike] = ...,
    out: Optional[NDArray[np.floating]] = ..., n_threads: Optional[int] = ...,
    backend: _Backend = ..., power: Optional[float] = ...,
) -> dict[str, Any]: ...
@overload
def show_config(mode: Literal["stdout"] = ...) -> None: ...
@overload
def show_config(mode: Literal["dicts"]) -> dict[str, Any]: ...

class Objective:
    def __init__(
        self, X: ArrayLike, y: ArrayLike, *, loss: _Loss = ..., fit_intercept: bool = ...,
        sample_weight: Optional[ArrayLike] = ..., l2: float = ...,
        reduction: _Reduction = ..., n_threads: Optional[int] = ...,
        backend: _Backend = ..., check_input: bool = ...,
        n_classes: Optional[int] = ..., power: Optional[float] = ...,
    ) -> None: ...
    @property
    def n_samples(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def coef_shape(self) -> Tuple[int, ...]: ...
    @property
    def dtype(self) -> np.dtype: ...
    @property
    def loss(self) -> str: ...
    @property
    def power(self) -> Optional[float]: ...
    @property
    def fit_intercept(self) -> bool: ...
    @property
    def reduction(self) -> str: ...
    @property
    def l2(self) -> float: ...
    @property
    def backend(self) -> str: ...
    def value_and_grad(
        self, coef: ArrayLike, *, rows: Optional[ArrayLike] = ...,
        out: Optional[NDArray[np.floating]] = ...,
    ) -> Tuple[float, NDArray[np.floating]]: ...
    def __call__(
        self, coef: ArrayLike, *, rows: Optional[ArrayLike] = ...,
        out: Optional[NDArray[np.floating]] = ...,
    ) -> Tuple[float, NDArray[np.floating]]: ...
    def grad(
        self, coef: ArrayLike, *, rows: Optional[ArrayLike] = ...,
        out: Optional[NDArray[np.floating]] = ...,
    ) -> NDArray[np.floating]: ...
    def value(self, coef: ArrayLike, *, rows: Optional[ArrayLike] = ...) -> float: ...
    def hessp(
        self, coef: ArrayLike, v: ArrayLike, *, rows: Optional[ArrayLike] = ...,
        out: Optional[NDArray[np.floating]] = ...,
    ) -> NDArray[np.floating]: ...
