"""Type aliases shared by the public functions."""

from __future__ import annotations

from typing import Literal, TypeAlias, Union

import numpy as np
import numpy.typing as npt
import pandas as pd

#: A number, a numpy array of numbers or a pandas Series of numbers.
FloatLike: TypeAlias = Union[float, int, "npt.ArrayLike", "pd.Series[float]"]
#: The value a public function returns: a float for scalar input, else ndarray or Series.
FloatResult: TypeAlias = Union[float, "npt.NDArray[np.float64]", "pd.Series[float]"]
#: ``"long"``/``"short"`` (case-insensitive) or +1/-1, scalar or array-like.
SideLike: TypeAlias = Union[str, float, int, "npt.ArrayLike", "pd.Series[str]"]

Side = Literal["long", "short"]
Contract = Literal["linear", "inverse"]
MarginMode = Literal["isolated", "cross"]
Exchange = Literal["binance", "bybit", "okx", "gate", "hyperliquid", "dydx", "bitmex", "generic"]
