#!/usr/bin/python3
"""scripts/make_golden_cem.py - PyTorch golden file for the planner optimizers
(tests/test_plan_opt.cpp, include/mbrl/plan_opt.h).

Writes tests/data/plan_opt_golden.h5 (a few KiB). Both sides get the same noise and costs, so
the file checks the optimizers' update arithmetic, not the random numbers:

  /cem/{lo,hi} (A), /cem/target (H, A), /cem/weight (H, A), /cem/mu0, /cem/var0 (H, A),
  /cem/z (I, N, H, A)       standard normals truncated at 2 std (torch, rejection as
                            mbrl-lib's truncated_normal_),
  /cem/pop (I, N, H, A)     mbrl-lib CEMOptimizer._sample_population (truncated normal, the
                            variance constrained to the bounds), clipped to the bounds,
  /cem/costs (I, N)         sum weight * (pop - target)^2 (float32),
  /cem/mu, /cem/var (I, H, A) after each iteration's update: elites = topk of -costs,
                            alpha-smoothed mean and unbiased variance (torch.var's default),
  attrs n_elite, alpha;
  /mppi/{lo,hi,mean0,past,z,pop,costs,mean}: MPPI (PDDM's sampling: u_0 = beta (m_0 +
                            sigma z_0) + (1 - beta) past, u_h = beta (m_h + sigma z_h) +
                            (1 - beta) u_{h-1}, clipped; weights exp(-(c - min c) / lambda);
                            mean = sum w u / (sum w + 1e-10)), attrs sigma, beta, lambda;
  /colored/<n>_<exp>/{g, y}: colored noise y (n) from standard normals g (2 (n//2 + 1):
                            real parts, then imaginary parts) with the colorednoise package's
                            recipe (rfftfreq, fmin = 1/n, unit-variance scale, irfft).

Usage: /usr/bin/python3 scripts/make_golden_cem.py [--out tests/data/plan_opt_golden.h5]
"""
import argparse
import math
import os

import h5py
import numpy as np
import torch


def truncated_normal(shape, gen):
    t = torch.randn(shape, generator=gen, dtype=torch.float32)
    while True:
        bad = (t < -2) | (t > 2)
        n = int(bad.sum())
        if n == 0:
            return t
        t[bad] = torch.randn(n, generator=gen, dtype=torch.float32)


def quad_cost(pop, target, weight):
    return ((pop - target) ** 2 * weight).sum(dim=(1, 2))


def cem(gen):
    I, N, H, A = 4, 64, 5, 2
    lo = torch.tensor([-2.0, -1.0])
    hi = torch.tensor([2.0, 3.0])
    target = torch.rand((H, A), generator=gen) * (hi - lo) * 0.8 + lo + 0.1 * (hi - lo)
    weight = torch.rand((H, A), generator=gen) + 0.5
    n_elite, alpha = int(math.ceil(N * 0.1)), 0.1
    mu = ((lo + hi) / 2).repeat(H, 1)
    mu[0, 0] = 1.5  # near a bound: the variance constraint matters
    var = ((hi - lo) ** 2 / 16).repeat(H, 1)
    out = {"lo": lo, "hi": hi, "target": target, "weight": weight, "mu0": mu.clone(),
           "var0": var.clone()}
    zs, pops, costs, mus, vars_ = [], [], [], [], []
    for _ in range(I):
        z = truncated_normal((N, H, A), gen)
        lb_dist, ub_dist = mu - lo, hi - mu
        mv = torch.min(torch.square(lb_dist / 2), torch.square(ub_dist / 2))
        cvar = torch.min(mv, var)
        pop = z * torch.sqrt(cvar) + mu
        pop = torch.max(torch.min(pop, hi), lo)
        c = quad_cost(pop, target, weight)
        _, idx = (-c).topk(n_elite)
        elite = pop[idx]
        mu = alpha * mu + (1 - alpha) * elite.mean(dim=0)
        var = alpha * var + (1 - alpha) * elite.var(dim=0)
        zs.append(z); pops.append(pop); costs.append(c); mus.append(mu.clone()); vars_.append(var.clone())
    out.update(z=torch.stack(zs), pop=torch.stack(pops), costs=torch.stack(costs),
               mu=torch.stack(mus), var=torch.stack(vars_))
    return out, {"n_elite": n_elite, "alpha": alpha}


def mppi(gen):
    I, N, H, A = 3, 48, 6, 2
    lo = torch.tensor([-2.0, -1.0])
    hi = torch.tensor([2.0, 3.0])
    sigma, beta, lam = 0.7, 0.8, 0.5
    target = torch.rand((H, A), generator=gen) * (hi - lo) * 0.8 + lo + 0.1 * (hi - lo)
    weight = torch.rand((H, A), generator=gen) + 0.5
    mean = torch.rand((H, A), generator=gen) * (hi - lo) + lo
    past = torch.tensor([0.3, -0.4])
    out = {"lo": lo, "hi": hi, "target": target, "weight": weight, "mean0": mean.clone(),
           "past": past}
    zs, pops, costs, means = [], [], [], []
    for _ in range(I):
        z = truncated_normal((N, H, A), gen)
        pop = torch.empty((N, H, A))
        pop[:, 0] = beta * (mean[0] + sigma * z[:, 0]) + (1 - beta) * past
        for h in range(1, H):
            pop[:, h] = beta * (mean[h] + sigma * z[:, h]) + (1 - beta) * pop[:, h - 1]
        pop = torch.max(torch.min(pop, hi), lo)
        c = quad_cost(pop, target, weight)
        w = torch.exp(-(c.double() - c.double().min()) / lam)
        mean = ((pop.double() * w[:, None, None]).sum(0) / (w.sum() + 1e-10)).float()
        zs.append(z); pops.append(pop); costs.append(c); means.append(mean.clone())
    out.update(z=torch.stack(zs), pop=torch.stack(pops), costs=torch.stack(costs),
               mean=torch.stack(means))
    return out, {"sigma": sigma, "beta": beta, "lambda": lam}


def colored(n, exponent, gen):
    """Standard normals g (2 (n//2 + 1), float32 as the C side reads them) and the colored
    noise y made from them."""
    g = torch.randn(2 * (n // 2 + 1), generator=gen, dtype=torch.float32).double()
    m = n // 2 + 1
    s = torch.fft.rfftfreq(n, dtype=torch.float64)
    ix = int((s < 1.0 / n).sum())  # fmin = 1/n: lower frequencies take its scale
    if ix and ix < len(s):
        s[:ix] = s[ix]
    s = s ** (-exponent / 2.0)
    w = s[1:].clone()
    w[-1] *= (1 + (n % 2)) / 2.0
    sigma = 2 * torch.sqrt(torch.sum(w ** 2)) / n
    sr, si = g[:m] * s, g[m:] * s
    if n % 2 == 0:
        si[-1] = 0
        sr[-1] *= math.sqrt(2)
    si[0] = 0
    sr[0] *= math.sqrt(2)
    return g, torch.fft.irfft(torch.complex(sr, si), n=n) / sigma


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "plan_opt_golden.h5"))
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(11)
    tmp = args.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "mbrl.plan_opt_golden"
        f.attrs["created_by"] = "scripts/make_golden_cem.py (torch %s)" % torch.__version__
        for name, fn in (("cem", cem), ("mppi", mppi)):
            d, attrs = fn(gen)
            g = f.create_group(name)
            for k, v in d.items():
                g.create_dataset(k, data=v.numpy().astype(np.float32))
            for k, v in attrs.items():
                g.attrs[k] = v
        for n, e in ((30, 2.0), (7, 1.0), (8, 2.5)):
            g, y = colored(n, e, gen)
            grp = f.create_group("colored/%d_%g" % (n, e))
            grp.create_dataset("g", data=g.numpy().astype(np.float32))
            grp.create_dataset("y", data=y.numpy().astype(np.float32))
            grp.attrs["n"] = n
            grp.attrs["exponent"] = e
    os.replace(tmp, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
