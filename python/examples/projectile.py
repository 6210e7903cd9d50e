"""Seed 002's pattern: a network trained from a gradient computed OUTSIDE it.

An mbrl.MLP (the "trebuchet") maps (wind speed, target distance) to launch parameters. The
trainer, plain numpy or PyTorch here, draws targets in [20, 100] m and winds ~ 5 N(0, 1) m/s
(seed 002's new_msg), computes where each projectile lands and the gradient of the squared miss
with respect to the network's output, and hands that gradient back (net.backward(dL/dy)); the
network takes an Adam step. The network never sees the physics.

Physics (the trainer's business): angle = (pi/2) sigmoid(y0), speed = 40 sigmoid(y1) m/s
(so 0 < angle < 90 degrees, 0 < speed < 40 m/s), flight time T = 2 speed sin(angle) / g, the
wind pushes with a constant horizontal acceleration 0.1 * wind, and the projectile lands at
    x = speed cos(angle) T + 0.05 wind T^2.

    python python/examples/projectile.py                # numpy computes the gradient
    python python/examples/projectile.py --torch        # torch.autograd does (as the seed)
Prints the RMS miss on 1000 held-out shots before and after training.
"""

import argparse

import numpy as np

import mbrl

G = 9.81
WIND_ACCEL = 0.1      # m/s^2 of horizontal acceleration per m/s of wind
MAX_SPEED = 40.0


def sample(rng, n):
    """Seed 002's new_msg: targets U(20, 100) m, winds 5 N(0, 1) m/s."""
    return rng.normal(size=n) * 5.0, rng.uniform(20.0, 100.0, n)


def features(wind, target):
    """The network's input: (wind / 5, target / 100)."""
    return np.stack([wind / 5.0, target / 100.0], axis=1).astype(np.float32)


def landing(y, wind):
    """Where shots with network outputs y (n, 2) land, and d(landing)/dy (n, 2) (numpy)."""
    y = y.astype(np.float64)
    s0, s1 = 1 / (1 + np.exp(-y[:, 0])), 1 / (1 + np.exp(-y[:, 1]))
    ang, v = 0.5 * np.pi * s0, MAX_SPEED * s1
    a = WIND_ACCEL * wind
    sn, cs = np.sin(ang), np.cos(ang)
    T = 2 * v * sn / G
    x = v * cs * T + 0.5 * a * T**2                  # = v^2 sin(2 ang)/g + 2 a v^2 sin^2/g^2
    dx_dang = 2 * v**2 * np.cos(2 * ang) / G + 2 * a * v**2 * np.sin(2 * ang) / G**2
    dx_dv = 2 * v * np.sin(2 * ang) / G + 4 * a * v * sn**2 / G**2
    dang_dy0 = 0.5 * np.pi * s0 * (1 - s0)
    dv_dy1 = MAX_SPEED * s1 * (1 - s1)
    return x, np.stack([dx_dang * dang_dy0, dx_dv * dv_dy1], axis=1)


def gradient_numpy(y, wind, target):
    """Squared-miss loss mean((x - target)^2) and its gradient w.r.t. y, by the chain rule."""
    x, dx_dy = landing(y, wind)
    miss = x - target
    loss = float(np.mean(miss**2))
    return loss, (2.0 * miss / len(miss))[:, None] * dx_dy


def gradient_torch(y, wind, target):
    """The same with torch.autograd (seed 002's trainer: MSELoss and its jacobian)."""
    import torch
    yt = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(wind)
    ang = 0.5 * np.pi * torch.sigmoid(yt[:, 0])
    v = MAX_SPEED * torch.sigmoid(yt[:, 1])
    T = 2 * v * torch.sin(ang) / G
    x = v * torch.cos(ang) * T + 0.5 * WIND_ACCEL * w * T**2
    loss = torch.nn.functional.mse_loss(x, torch.tensor(target))
    loss.backward()
    return float(loss), yt.grad.numpy()


def rms_miss(net, wind, target):
    x, _ = landing(net.forward(features(wind, target), train=False), wind)
    return float(np.sqrt(np.mean((x - target) ** 2)))


def train(steps=3000, batch=100, seed=0, use_torch=False, device="auto", lr=3e-3):
    """Train the trebuchet; returns (net, RMS miss before, RMS miss after) on 1000 held-out shots."""
    rng = np.random.default_rng(seed)
    net = mbrl.MLP([2, 64, 64, 2], activation="tanh", seed=seed, device=device,
                   optimizer="adam", lr=lr)
    test_wind, test_target = sample(np.random.default_rng(seed + 10_000), 1000)
    before = rms_miss(net, test_wind, test_target)
    grad = gradient_torch if use_torch else gradient_numpy
    for step in range(steps):
        net.lr = lr * (1.0 - 0.9 * step / steps)       # linear decay to lr / 10
        wind, target = sample(rng, batch)
        y = net.forward(features(wind, target))        # the network's launch parameters
        _, dy = grad(y, wind, target)                  # the outside world's answer: dL/dy
        net.backward(dy.astype(np.float32))
        net.step()
    return net, before, rms_miss(net, test_wind, test_target)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torch", action="store_true", help="compute the gradient with torch.autograd")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args(argv)
    net, before, after = train(a.steps, seed=a.seed, use_torch=a.torch, device=a.device)
    print(f"RMS miss on 1000 held-out shots: {before:.2f} m before training, {after:.3f} m after "
          f"{a.steps} steps ({'torch' if a.torch else 'numpy'} gradients, {net.device})")


if __name__ == "__main__":
    main()
