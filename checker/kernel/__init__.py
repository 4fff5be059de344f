"""The checker's arithmetic kernel: the only code that creates intervals, rounds and counts FLOPs.

* :mod:`~checker.kernel.interval` (:class:`Interval`) and :mod:`~checker.kernel.lower`
  (:class:`LowerBound`): enclosures of arrays of reals, every operation rounded outward and charged;
* :mod:`~checker.kernel.exact` (:class:`ExactMatrix`): exact integer products of float32 weights,
  rounded once to intervals;
* :mod:`~checker.kernel.rexp`: the proven exp kernel; :mod:`~checker.kernel.rounding`: the rounding
  facts; :mod:`~checker.kernel.fpenv`: the floating-point environment check;
* :mod:`~checker.kernel.flops`: the cost model's counter; :mod:`~checker.kernel.counting`: exact
  counting, charged as bookkeeping.

Everything outside this package (the tables, the replays) composes these operations, reads intervals
only through their certified predicates, and never touches an endpoint, a rounding step or the
counter; ``tests/test_closed_kernel.py`` enforces it.
"""

from checker.kernel.exact import ExactMatrix
from checker.kernel.interval import Interval
from checker.kernel.lower import LowerBound

__all__ = ["ExactMatrix", "Interval", "LowerBound"]
