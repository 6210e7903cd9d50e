#!/usr/bin/python3
"""Write tests/data/ensemble_golden.h5: PyTorch reference values for the dynamics ensemble
(mbrl/nn_batched.h's Gaussian NLL and mbrl/dyn_ensemble.h's batched training step).

Run with Debian's python3 (torch 1.13, h5py):  /usr/bin/python3 scripts/make_golden_ensemble.py
tests/test_dyn_ensemble_golden.cpp reads the file; rerun this script when its layout changes.
The model is scripts/ensemble_model.py (mbrl-lib GaussianMLP semantics on the seed's MLP shape).

Groups (flat arrays use mbrl's layout: ensemble_model.flat_params / flat_grads / flat_buffers):
  /nll    the loss op alone (float32 inputs, references computed in float64): out (M=3, B=16, 2*O=6) with raw log-variances spread over both
          soft-clamp regions and past softplus's threshold (max - raw > 20), target (3, 16, 3),
          max_logvar, min_logvar (3); loss (scalar, incl. 0.01 * (sum max - sum min)),
          member_loss (3), dout (3, 16, 6), dmax, dmin (3)  (autograd)
  /prob   a probabilistic ensemble: M=3 members 4 -> 64 -> 64 -> 6 (BN), Adam(lr 0.01,
          betas (0.99, 0.999)), 3 steps on per-member minibatches x (3 steps, 3, 32, 4),
          y (3, 3, 32, 3):
            init/params, init/buffers         the state before anything
            step0/mean, step0/logvar (3, 32, 3), step0/member_loss (3), step0/loss,
            step0/grads                       first step's train-mode forward and gradients
            losses (3)                        each step's loss before its update
            final/params, final/buffers       after 3 steps (num_batches_tracked = 3)
            eval/x (20, 4), eval/mean, eval/logvar (3, 20, 3)  eval mode after the 3 steps
  /det    the same for a deterministic ensemble of M=2 (4 -> 64 -> 64 -> 3, MSE per member):
          init/params, init/buffers, step0/member_loss, step0/loss, step0/grads, losses (3),
          final/params, final/buffers
"""
import os
import sys

try:
    import h5py
    import numpy as np
    import torch
    from ensemble_model import ProbEnsemble, flat_buffers, flat_grads, flat_params
except ImportError as e:  # pragma: no cover
    print(f"make_golden_ensemble.py: error: {e} (use Debian's /usr/bin/python3 with python3-torch)",
          file=sys.stderr)
    sys.exit(1)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                   "ensemble_golden.h5")


def put(g, name, t):
    g.create_dataset(name, data=(t.detach().numpy() if torch.is_tensor(t) else t).astype(np.float32))


def nll_case(f):
    g = f.create_group("nll")
    M, B, O = 3, 16, 3
    mean = torch.randn(M, B, O) * 0.8
    raw = torch.empty(M, B, O).uniform_(-14.0, 4.0)
    raw[0, :3, 0] = torch.tensor([-25.0, -30.0, 8.0])  # max - raw > 20; raw far above max
    # float32 inputs, reference values computed in float64 from them (exact to ~1e-15: the
    # op's float arithmetic is then the only error the test sees)
    out = torch.cat([mean, raw], -1).double().requires_grad_(True)
    target = (torch.randn(M, B, O) * 0.8).double()
    mx = torch.tensor([[0.5, 0.2, 1.0]], dtype=torch.float64, requires_grad=True)
    mn = torch.tensor([[-10.0, -6.0, -12.0]], dtype=torch.float64, requires_grad=True)
    m, r = out[..., :O], out[..., O:]
    lv = mx - torch.nn.functional.softplus(mx - r)
    lv = mn + torch.nn.functional.softplus(lv - mn)
    per = ((m - target) ** 2 * (-lv).exp() + lv).mean((1, 2))
    loss = per.sum() + 0.01 * (mx.sum() - mn.sum())
    loss.backward()
    put(g, "out", out)
    put(g, "target", target)
    put(g, "max_logvar", mx.reshape(-1))
    put(g, "min_logvar", mn.reshape(-1))
    put(g, "loss", loss.reshape(()))
    put(g, "member_loss", per)
    put(g, "dout", out.grad)
    put(g, "dmax", mx.grad.reshape(-1))
    put(g, "dmin", mn.grad.reshape(-1))


def train_case(f, name, members, probabilistic):
    g = f.create_group(name)
    M, B, steps = members, 32, 3
    model = ProbEnsemble(3, 1, members=M, probabilistic=probabilistic)
    # non-trivial BN affine parameters so their gradients matter
    with torch.no_grad():
        for mem in model.members:
            for mod in mem.network:
                if isinstance(mod, torch.nn.BatchNorm1d):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.3, 0.3)
        if probabilistic:
            model.max_logvar.copy_(torch.tensor([[0.5, 0.1, 0.8]]))
            model.min_logvar.copy_(torch.tensor([[-10.0, -4.0, -8.0]]))
    put(g, "init/params", flat_params(model))
    put(g, "init/buffers", flat_buffers(model))
    x = torch.randn(steps, M, B, 4)
    y = torch.randn(steps, M, B, 3) * 0.7 + 0.1
    put(g, "x", x)
    put(g, "y", y)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.99, 0.999))
    losses = []
    model.train()
    for s in range(steps):
        opt.zero_grad()
        if s == 0:
            mean, logvar = model(x[s])
            put(g, "step0/mean", mean)
            if probabilistic:
                put(g, "step0/logvar", logvar)
            # the forward above already updated the running statistics once: reload them
            for mem in model.members:
                for mod in mem.network:
                    if isinstance(mod, torch.nn.BatchNorm1d):
                        mod.running_mean.zero_()
                        mod.running_var.fill_(1.0)
                        mod.num_batches_tracked.zero_()
        loss, per = model.loss(x[s], y[s])
        loss.backward()
        if s == 0:
            put(g, "step0/member_loss", per)
            put(g, "step0/loss", loss.reshape(()))
            put(g, "step0/grads", flat_grads(model))
        losses.append(loss.item())
        opt.step()
    put(g, "losses", np.array(losses))
    put(g, "final/params", flat_params(model))
    put(g, "final/buffers", flat_buffers(model))
    if probabilistic:
        model.eval()
        xe = torch.randn(20, 4)
        with torch.no_grad():
            mean, logvar = model(xe)
        put(g, "eval/x", xe)
        put(g, "eval/mean", mean)
        put(g, "eval/logvar", logvar)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with h5py.File(OUT + ".tmp", "w") as f:
        f.attrs["created_by"] = "scripts/make_golden_ensemble.py"
        f.attrs["torch_version"] = str(torch.__version__)
        nll_case(f)
        train_case(f, "prob", 3, True)
        train_case(f, "det", 2, False)
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
