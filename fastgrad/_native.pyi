"""Type stub of the compiled core (fastgrad/_native.pyx)."""
from typing import Any, Optional, Union

from typing_extensions import disjoint_base

import numpy as np
from numpy.typing import NDArray

LOSS_CODES: dict[str, int]

def openmp_enabled() -> bool: ...
def omp_max_threads() -> int: ...
def simd_paths() -> str: ...
def simd_selected() -> str: ...
ISA_NAMES: tuple[str, ...]
def isa_compiled() -> tuple[str, ...]: ...
def isa_compiled_runnable() -> tuple[str, ...]: ...
def isa_selected() -> str: ...
def log1pexp(z: float) -> float: ...
def sigmoid(z: float) -> float: ...
def have_vector_paths() -> bool: ...
def plan_of_call(
    X: Any, nrows: int, k: int, loss: int, hess: bool, want_grad: bool, rows: bool,
) -> tuple[int, int, int, int, int, bool, int]: ...
def run(
    X: NDArray[np.floating], y: Union[NDArray[np.floating], NDArray[np.intp]],
    w: Optional[NDArray[np.floating]],
    rows: Optional[NDArray[np.intp]], coef: NDArray[np.floating],
    v: Optional[NDArray[np.floating]], out: Optional[NDArray[np.floating]], loss: str,
    fit_intercept: bool, hess: bool, want_grad: bool, l2: float, denom: float,
    n_threads: int, power: float = ...,
) -> float: ...
def value_and_grad_common(
    X: Any, y: Any, coef: Any, rows: Any, out: Any, loss: Any, fit_intercept: Any,
    l2: Any, reduction: Any, n_threads: Any, backend: Any,
) -> Optional[tuple[float, NDArray[np.floating]]]: ...

@disjoint_base
class ObjectivePlan:
    def __new__(
        cls, X: NDArray[np.floating], y: Union[NDArray[np.floating], NDArray[np.intp]],
        w: Optional[NDArray[np.floating]], loss: str, power: float, fit_intercept: bool,
        nd: int, k: int, l2: float, denom: float, mean: bool,
    ) -> ObjectivePlan: ...
    def value_and_grad(
        self, coef: Any, rows: Any = None, out: Any = None,
    ) -> Optional[tuple[float, NDArray[np.floating]]]: ...
    def value(self, coef: Any, rows: Any = None) -> Optional[float]: ...
    def threaded(
        self, coef: Any, rows: Any, out: Any, want_grad: bool, n_threads: int,
    ) -> Optional[Union[float, tuple[float, NDArray[np.floating]]]]: ...

def run_csr(
    X: Any, y: NDArray[np.floating], w: Optional[NDArray[np.floating]],
    rows: Optional[NDArray[np.intp]], coef: NDArray[np.floating],
    v: Optional[NDArray[np.floating]], out: Optional[NDArray[np.floating]], loss: str,
    fit_intercept: bool, hess: bool, want_grad: bool, l2: float, denom: float,
    n_threads: int, power: float = ...,
) -> float: ...
__test__: dict[str, str]
