"""mbrl.MLP against PyTorch (Debian's python3-torch): forward, backward from an outside dL/dy,
the parameter gradients and Adam / RMSprop steps; weight vectors, files, argument checks."""

import numpy as np
import pytest

import mbrl

torch = pytest.importorskip("torch")


def _torch_net(sizes, act, bn):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            if bn:
                layers.append(torch.nn.BatchNorm1d(sizes[i + 1]))
            layers.append(torch.nn.Tanh() if act == "tanh" else torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _params_from_torch(net, sizes, bn):
    """Our flat params layout: per Linear W (out, in), b, then BN gamma, beta."""
    mods = [m for m in net if isinstance(m, (torch.nn.Linear, torch.nn.BatchNorm1d))]
    out = []
    for m in mods:
        out += [m.weight.detach().numpy().ravel(), m.bias.detach().numpy().ravel()]
    return np.concatenate(out).astype(np.float32)


def _well_defined(net, bn):
    """Mask of the params whose gradient is not zero by construction: the bias of a Linear
    that BatchNorm follows has dL/db = 0 exactly, so Adam's first steps move it by the sign of
    rounding noise (+-lr in both libraries, at random); those entries are left out."""
    mask = []
    mods = [m for m in net if isinstance(m, (torch.nn.Linear, torch.nn.BatchNorm1d))]
    for k, m in enumerate(mods):
        pre_bn = bn and isinstance(m, torch.nn.Linear) and k + 1 < len(mods) and \
            isinstance(mods[k + 1], torch.nn.BatchNorm1d)
        mask += [np.ones(m.weight.numel(), bool), np.full(m.bias.numel(), not pre_bn)]
    return np.concatenate(mask)


def _grads_from_torch(net):
    mods = [m for m in net if isinstance(m, (torch.nn.Linear, torch.nn.BatchNorm1d))]
    return np.concatenate([g for m in mods for g in (m.weight.grad.numpy().ravel(), m.bias.grad.numpy().ravel())])


@pytest.mark.parametrize("act,bn,opt", [("tanh", False, "adam"), ("relu", True, "adam"),
                                        ("tanh", True, "rmsprop")])
def test_matches_pytorch_over_steps(act, bn, opt):
    torch.manual_seed(0)
    sizes = [5, 16, 12, 3]
    ref = _torch_net(sizes, act, bn).train()
    net = mbrl.MLP(sizes, activation=act, batchnorm=bn, device="cpu", optimizer=opt, lr=1e-2,
                   max_batch=8)     # grows to the batch of 20 on the first forward
    net.set_params(_params_from_torch(ref, sizes, bn))
    topt = (torch.optim.Adam(ref.parameters(), lr=1e-2) if opt == "adam"
            else torch.optim.RMSprop(ref.parameters(), lr=1e-2, alpha=0.99, eps=1e-8))
    rng = np.random.default_rng(1)
    for step in range(4):
        x = rng.normal(size=(20, 5)).astype(np.float32)
        dy = rng.normal(size=(20, 3)).astype(np.float32)      # the outside gradient
        xt = torch.tensor(x, requires_grad=True)
        yt = ref(xt)
        topt.zero_grad()
        yt.backward(torch.tensor(dy))
        y = net.forward(x)
        dx = net.backward(dy)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=f"y step {step}")
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=f"dx step {step}")
        np.testing.assert_allclose(net.get_grads(), _grads_from_torch(ref), rtol=1e-4, atol=1e-5,
                                   err_msg=f"grads step {step}")
        topt.step()
        net.step()
        ok = _well_defined(ref, bn)
        np.testing.assert_allclose(net.get_params()[ok], _params_from_torch(ref, sizes, bn)[ok],
                                   rtol=1e-4, atol=1e-5, err_msg=f"params after step {step}")
        if bn:   # the bias ahead of BatchNorm: its gradient is zero up to rounding in both
            assert np.abs(net.get_grads()[~ok]).max() < 1e-5
    ref.eval()
    x = rng.normal(size=(3, 5)).astype(np.float32)
    if not bn:   # (with BN the pre-BN biases differ by +-lr each step, see _well_defined)
        np.testing.assert_allclose(net.forward(x, train=False), ref(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    assert net.max_batch >= 20


def test_state_vectors_and_files(tmp_path):
    net = mbrl.MLP([3, 8, 2], batchnorm=True, seed=5, device="cpu")
    net.forward(np.ones((4, 3)))
    s = net.get_state()
    assert s.size > net.n_params                      # BN running stats and counters too
    other = mbrl.MLP([3, 8, 2], batchnorm=True, seed=6, device="cpu")
    other.set_state(s)
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    np.testing.assert_array_equal(other.forward(x, train=False), net.forward(x, train=False))
    p = tmp_path / "net.h5"
    net.save(p)
    back = mbrl.MLP.load(p, device="cpu")
    assert back.sizes == [3, 8, 2] and back.batchnorm
    np.testing.assert_array_equal(back.forward(x, train=False), net.forward(x, train=False))
    W, b = net.layer(1)
    assert W.shape == (2, 8) and b.shape == (2,)


def test_bad_arguments():
    with pytest.raises(ValueError, match="sizes"):
        mbrl.MLP([3])
    with pytest.raises(ValueError, match="activation"):
        mbrl.MLP([3, 2], activation="gelu")
    net = mbrl.MLP([3, 4, 2], batchnorm=True, device="cpu")
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        net.forward(np.zeros((1, 3)))
    net.forward(np.zeros((1, 3)), train=False)
    net.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"grad_output must have shape \(5, 2\)"):
        net.backward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        net.backward(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        net.forward(np.zeros((5, 4)))
    with pytest.raises(TypeError):
        net.forward(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="params"):
        net.set_params(np.zeros(3))
    with pytest.raises(RuntimeError, match="no optimizer"):
        mbrl.MLP([2, 2], optimizer=None).step()
    with pytest.raises(FileNotFoundError):
        mbrl.MLP.load("no_such_net.h5")


@pytest.mark.skipif(not mbrl.cuda_available(), reason="no CUDA GPU (or a CPU-only build)")
def test_cuda_equals_cpu():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    dy = np.ones((64, 2), np.float32)
    outs = []
    for dev in ("cpu", "cuda"):
        net = mbrl.MLP([4, 32, 2], batchnorm=True, seed=1, device=dev)
        y = net.forward(x)
        dx = net.backward(dy)
        net.step()
        outs.append((y, dx, net.get_params()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
