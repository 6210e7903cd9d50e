#!/usr/bin/python3
"""Write tests/data/mlp_golden.h5: PyTorch reference values for the mlp module.

Run with Debian's python3 (torch 1.13, h5py):  /usr/bin/python3 scripts/make_golden_mlp.py
tests/test_mlp_golden.cpp reads the file; rerun this script when the file's layout changes.

Cases (each a group; state dicts are stored with '.' -> '/', e.g. .../network/0/weight):
  /bn    the seed's MLP(state_dim=3, action_dim=1, nn_size=64): Linear-BN-ReLU x2, Linear,
         seed weight_init (orthogonal, zero bias); x (128,4), target (128,3).
         init/            state_dict before anything
         train/y          forward output in train mode;  train/loss  F.mse_loss
         train/grad/...   every parameter gradient;        train/dx    dL/dx
         train/state/...  state_dict after the train forward (running stats, num_batches_tracked)
         eval/y           forward output in eval mode (after that train forward)
         adam/loss (3), adam/state/...  3 steps of Adam(lr 0.01, betas (0.99, 0.999)) from init
         rmsprop/loss (3), rmsprop/state/...  3 steps of RMSprop(lr 0.01, alpha 0.99, eps 1e-8)
  /tanh  SB3-style 4-64-64-2 Tanh MLP without BN, orthogonal gains sqrt(2), sqrt(2), 0.01;
         x (32,4), target (32,2); init/, train/y, train/loss, train/grad/..., train/dx,
         rmsprop/{loss, grad_norm (3), state/...}: 3 steps of RMSprop(lr 7e-4, alpha 0.99,
         eps 1e-5) with clip_grad_norm_(0.5) before each step.
"""
import math
import os
import sys

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from seed_models import MLP  # scripts/seed_models.py: seed 003's model
except ImportError as e:  # pragma: no cover
    print(f"make_golden_mlp.py: error: {e} (use Debian's /usr/bin/python3 with python3-torch)",
          file=sys.stderr)
    sys.exit(1)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                   "mlp_golden.h5")


class TanhMLP(nn.Module):
    """SB3's actor MLP shape: Linear-Tanh x2, Linear head; orthogonal gains sqrt(2), 0.01."""

    def __init__(self, sizes, gains):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            lin = nn.Linear(sizes[i], sizes[i + 1])
            nn.init.orthogonal_(lin.weight, gain=gains[i])
            nn.init.zeros_(lin.bias)
            layers.append(lin)
            if i < len(sizes) - 2:
                layers.append(nn.Tanh())
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


def put_state(g, sd):
    for k, v in sd.items():
        g.create_dataset(k.replace(".", "/"), data=v.detach().cpu().numpy())


def put_grads(g, model):
    for k, p in model.named_parameters():
        g.create_dataset(k.replace(".", "/"), data=p.grad.detach().cpu().numpy())


def fwd(model, x):
    if isinstance(model, MLP):
        return model(x[:, :3], x[:, 3:])
    return model(x)


def train_case(g, model, x, target):
    model.train()
    xr = x.clone().requires_grad_(True)
    y = fwd(model, xr)
    loss = F.mse_loss(y, target)
    model.zero_grad()
    loss.backward()
    t = g.create_group("train")
    t.create_dataset("y", data=y.detach().numpy())
    t.create_dataset("loss", data=np.float32(loss.item()))
    put_grads(t.create_group("grad"), model)
    t.create_dataset("dx", data=xr.grad.numpy())
    put_state(t.create_group("state"), model.state_dict())


def optim_case(g, name, model, opt, x, target, steps=3, clip=None):
    model.train()
    losses, norms = [], []
    for _ in range(steps):
        y = fwd(model, x)
        loss = F.mse_loss(y, target)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
        opt.step()
        losses.append(loss.item())
    o = g.create_group(name)
    o.create_dataset("loss", data=np.array(losses, dtype=np.float32))
    if clip is not None:
        o.create_dataset("grad_norm", data=np.array(norms, dtype=np.float32))
    put_state(o.create_group("state"), model.state_dict())


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with h5py.File(OUT + ".tmp", "w") as f:
        f.attrs["created_by"] = "scripts/make_golden_mlp.py"
        f.attrs["torch_version"] = str(torch.__version__)

        # ---- /bn: the seed's model ----
        g = f.create_group("bn")
        model = MLP(state_dim=3, action_dim=1, nn_size=64)
        init = {k: v.clone() for k, v in model.state_dict().items()}
        x = torch.randn(128, 4)
        target = torch.randn(128, 3) * 0.5 + 0.1
        g.create_dataset("x", data=x.numpy())
        g.create_dataset("target", data=target.numpy())
        put_state(g.create_group("init"), init)
        train_case(g, model, x, target)
        model.eval()
        with torch.no_grad():
            g.create_dataset("eval/y", data=fwd(model, x).numpy())

        model.load_state_dict(init)
        opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.99, 0.999))
        optim_case(g, "adam", model, opt, x, target)

        model.load_state_dict(init)
        opt = torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.99, eps=1e-8)
        optim_case(g, "rmsprop", model, opt, x, target)

        # ---- /tanh: SB3-style actor, no BN ----
        g = f.create_group("tanh")
        model = TanhMLP([4, 64, 64, 2], [math.sqrt(2), math.sqrt(2), 0.01])
        x = torch.randn(32, 4)
        target = torch.randn(32, 2)
        g.create_dataset("x", data=x.numpy())
        g.create_dataset("target", data=target.numpy())
        put_state(g.create_group("init"), model.state_dict())
        train_case(g, model, x, target)
        opt = torch.optim.RMSprop(model.parameters(), lr=7e-4, alpha=0.99, eps=1e-5)
        optim_case(g, "rmsprop", model, opt, x, target, clip=0.5)
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
