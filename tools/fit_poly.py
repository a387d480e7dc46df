"""The polynomial coefficients of fg_expneg and fg_log1p_s (src_c/fg_pointwise.h).

Least squares of the relative error at 400 Chebyshev nodes, in 40-digit
arithmetic (mpmath): close to the minimax polynomial. Prints each fit's maximum
relative error on a fine grid and the coefficients rounded to double.

Run: python tools/fit_poly.py   (needs mpmath; a few seconds)
"""
import mpmath as mp

mp.mp.dps = 40


def fit(f, a, b, deg, nodes=400):
    xs = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / nodes)
          for k in range(nodes)]
    A = mp.matrix(nodes, deg + 1)
    B = mp.matrix(nodes, 1)
    for i, x in enumerate(xs):
        fx = f(x)
        for j in range(deg + 1):
            A[i, j] = x ** j / fx
        B[i] = 1
    sol = mp.qr_solve(A, B)[0]
    return [sol[j] for j in range(deg + 1)]


def max_rel(f, coef, a, b, points=3000):
    worst = 0
    for k in range(points + 1):
        x = a + (b - a) * k / points
        p = 0
        for c in reversed(coef):
            p = p * x + c
        worst = max(worst, abs((p - f(x)) / f(x)))
    return worst


def main():
    half_ln2 = mp.log(2) / 2
    # e^r on [-ln2/2, ln2/2], degree 11
    c = fit(mp.exp, -half_ln2, half_ln2, 11)
    print(f"fg_expneg: degree 11, max relative error {float(max_rel(mp.exp, c, -half_ln2, half_ln2)):.3g}")
    print("  " + ", ".join(repr(float(x)) for x in c))
    # atanh(s) / s as a polynomial in u = s^2 on [0, 1/9] (s <= 1/3), degree 10

    def g(u):
        return mp.atanh(mp.sqrt(u)) / mp.sqrt(u) if u > 0 else mp.mpf(1)

    c = fit(g, mp.mpf(0), mp.mpf(1) / 9, 10)
    print(f"fg_log1p_s: degree 10, max relative error {float(max_rel(g, c, mp.mpf(0), mp.mpf(1) / 9)):.3g}")
    print("  " + ", ".join(repr(float(x)) for x in c))


if __name__ == "__main__":
    main()
