"""95 % confidence intervals of the dashboard's means and rates (pure; the standard library only).

The layer stays light: no scipy at run time. The Student-t quantile is computed here: below 1000
degrees of freedom by Newton's method on the regularized incomplete beta function (a continued
fraction, Lentz's method), from 1000 by the Cornish-Fisher series; to about 1e-13 relative
(``tests/unit/test_analytics_ci.py`` checks it against ``scipy.stats.t``).

Every interval is computed in floats from exact sufficient statistics (counts, sums, sums of
squares as integers: variances are exact fractions until the square root) and returned unrounded;
the caller rounds it like the value it goes with. ``None`` where an interval cannot be computed
(docs/metrics.md, "Confidence intervals"): never NaN.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist

LEVEL = 0.95
Z = NormalDist().inv_cdf(1 - (1 - LEVEL) / 2)  # 1.959963984540054
_TAIL = (1 - LEVEL) / 2  # 0.025 in each tail

__all__ = ["LEVEL", "Z", "mean_interval", "nps_interval", "t_quantile", "welch_interval", "wilson_interval"]


# ------------------------------------------------------------------ Student's t


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < eps:
            return h
    raise ArithmeticError("incomplete beta: no convergence")  # pragma: no cover - not for a > 0, b > 0


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0."""
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


def _density(t: float, df: float) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))


def _cornish_fisher(z: float, df: float) -> float:
    """Abramowitz & Stegun 26.7.5: the t quantile as a series in 1/df around the normal one
    (error of order df^-5: below 1e-15 relative from df = 1000)."""
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@lru_cache(maxsize=4096)
def t_quantile(df: float, tail: float = _TAIL) -> float:
    """The t with P(T > t) = ``tail`` for Student's t with ``df`` (> 0, not necessarily whole)
    degrees of freedom: 12.706... for df = 1, 2.776... for df = 4, -> 1.95996... as df grows.

    Below 1000 degrees of freedom: Newton's method on the upper tail from the normal quantile (the
    tail is convex for t > 0 and the normal quantile lies below the root, so the iterates increase
    monotonically to it). From 1000: the Cornish-Fisher series, exact to the float there.
    """
    if not df > 0:
        raise ValueError("degrees of freedom must be positive")
    z = NormalDist().inv_cdf(1 - tail)
    if df >= 1000:
        return _cornish_fisher(z, df)
    t = z
    for _ in range(200):
        step = (_upper_tail(t, df) - tail) / _density(t, df)
        t += step
        if abs(step) <= 1e-14 * t:
            break
    return t


# ------------------------------------------------------------------ the intervals


def _variance(count: int, total: int, squares: int) -> Fraction:
    """The sample variance (n - 1 in the denominator), exactly, from n, sum and sum of squares."""
    return Fraction(count * squares - total * total, count * (count - 1))


def mean_interval(count: int, total: int, squares: int, low: float, high: float) -> tuple[float, float] | None:
    """t-interval of a mean: mean +- t(0.975, n - 1) * s / sqrt(n), within [low, high] (the scale).

    None for n < 2 (no variance estimate) or a sample without spread (every value equal)."""
    if count < 2:
        return None
    variance = _variance(count, total, squares)
    if variance <= 0:
        return None
    mean = Fraction(total, count)
    half = t_quantile(float(count - 1)) * math.sqrt(variance / count)
    return max(low, float(mean) - half), min(high, float(mean) + half)


def wilson_interval(part: int, count: int) -> tuple[float, float] | None:
    """Wilson score interval of a proportion ``part / count`` (in [0, 1]). None for count 0.

    Well defined for n = 1 and for 0 or n successes (where the Wald interval collapses)."""
    if count < 1:
        return None
    p = part / count
    z2 = Z * Z
    denominator = 1 + z2 / count
    centre = (p + z2 / (2 * count)) / denominator
    half = Z * math.sqrt(p * (1 - p) / count + z2 / (4 * count * count)) / denominator
    low = 0.0 if part == 0 else max(0.0, centre - half)
    high = 1.0 if part == count else min(1.0, centre + half)
    return low, high


def welch_interval(
    first: tuple[int, int, int], second: tuple[int, int, int], bound: float
) -> tuple[float, float, float] | None:
    """Welch's interval of mean(second) - mean(first), each given as (n, sum, sum of squares):
    delta +- t(0.975, df) * sqrt(s1^2/n1 + s2^2/n2), df by Welch-Satterthwaite, within
    [-bound, bound]. Returns (low, high, df), or None when either n < 2 or both samples lack spread."""
    (n1, t1, q1), (n2, t2, q2) = first, second
    if n1 < 2 or n2 < 2:
        return None
    v1, v2 = _variance(n1, t1, q1) / n1, _variance(n2, t2, q2) / n2
    se2 = v1 + v2
    if se2 <= 0:
        return None
    df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    delta = Fraction(t2, n2) - Fraction(t1, n1)
    half = t_quantile(float(df)) * math.sqrt(se2)
    return max(-bound, float(delta) - half), min(bound, float(delta) + half), float(df)


def nps_interval(promoters: int, passives: int, detractors: int) -> tuple[float, float] | None:
    """Normal-approximation (Wald) interval of the NPS on -100..100: the scores are +1 / 0 / -1,
    NPS = 100 * mean, var = (p + d)/n - ((p - d)/n)^2 (the multinomial variance of one score),
    NPS +- 100 * z * sqrt(var / n). None without responses or when every score is the same."""
    n = promoters + passives + detractors
    if n < 1:
        return None
    mean = Fraction(promoters - detractors, n)
    variance = Fraction(promoters + detractors, n) - mean * mean
    if variance <= 0:
        return None
    half = 100 * Z * math.sqrt(variance / n)
    return max(-100.0, 100 * float(mean) - half), min(100.0, 100 * float(mean) + half)
