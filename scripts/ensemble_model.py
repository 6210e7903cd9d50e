"""scripts/ensemble_model.py - the PyTorch twin of mbrl's dynamics ensemble (mbrl/dyn_ensemble.h).

An ensemble of M members, each the seed's MLP shape (Linear-BatchNorm-ReLU per hidden layer,
then Linear) with 2*obs outputs when probabilistic (the mean, then the raw log-variance of the
normalized state delta), and mbrl-lib GaussianMLP's log-variance bounds and loss:
  logvar = max_logvar - softplus(max_logvar - raw); logvar = min_logvar + softplus(logvar - min)
  loss   = sum over members of mean over (batch, obs) of (mean - y)^2 exp(-logvar) + logvar
           + 0.01 * (sum max_logvar - sum min_logvar)
(deterministic members: the sum over members of each member's F.mse_loss). Its state_dict names
are the ones mbrl writes under /model of an mbrl.dyn_ensemble checkpoint:
  members.<m>.network.<i>.{weight,bias,running_mean,running_var,num_batches_tracked},
  max_logvar (1, obs), min_logvar (1, obs)
so  model.load_state_dict({k.replace('/', '.'): torch.tensor(v) for k, v in <items of /model>}).

Used by scripts/make_golden_ensemble.py and tests/py_ensemble_torch.py. From outside scripts/:
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def gaussian_nll(pred_mean, pred_logvar, target):
    """mbrl-lib mbrl.util.math.gaussian_nll(..., reduce=False)."""
    l2 = F.mse_loss(pred_mean, target, reduction="none")
    inv_var = (-pred_logvar).exp()
    return l2 * inv_var + pred_logvar


class MemberMLP(nn.Module):
    """The seed's MLP shape with `out_dim` outputs: (Linear-[BN]-ReLU) per hidden width, Linear."""

    def __init__(self, in_dim, out_dim, hidden=(64, 64), batchnorm=True):
        super().__init__()
        layers, w = [], in_dim
        for h in hidden:
            layers.append(nn.Linear(w, h))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            w = h
        layers.append(nn.Linear(w, out_dim))
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


class ProbEnsemble(nn.Module):
    def __init__(self, obs_dim, act_dim, members=5, hidden=(64, 64), probabilistic=True,
                 batchnorm=True, learn_logvar_bounds=True, bound_coef=0.01):
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.probabilistic, self.bound_coef = probabilistic, bound_coef
        out = (2 if probabilistic else 1) * obs_dim
        self.members = nn.ModuleList(
            [MemberMLP(obs_dim + act_dim, out, hidden, batchnorm) for _ in range(members)])
        if probabilistic:
            self.max_logvar = nn.Parameter(0.5 * torch.ones(1, obs_dim),
                                           requires_grad=learn_logvar_bounds)
            self.min_logvar = nn.Parameter(-10 * torch.ones(1, obs_dim),
                                           requires_grad=learn_logvar_bounds)
        self.stats = None

    def forward(self, x):
        """x (M, B, in): member m reads x[m]; or (B, in): every member reads x.
        Returns mean (M, B, obs) and logvar (M, B, obs) (None when deterministic)."""
        outs = torch.stack([mem(x[i] if x.dim() == 3 else x) for i, mem in enumerate(self.members)])
        if not self.probabilistic:
            return outs, None
        o = self.obs_dim
        mean, raw = outs[..., :o], outs[..., o:]
        logvar = self.max_logvar - F.softplus(self.max_logvar - raw)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mean, logvar

    def loss(self, x, target):
        """Total loss and the per-member losses (M) for x (M, B, in), target (M, B, obs)."""
        mean, logvar = self.forward(x)
        if self.probabilistic:
            per = gaussian_nll(mean, logvar, target).mean((1, 2))
            total = per.sum() + self.bound_coef * (self.max_logvar.sum() - self.min_logvar.sum())
        else:
            per = torch.stack([F.mse_loss(mean[i], target[i]) for i in range(len(self.members))])
            total = per.sum()
        return total, per

    # ---- the normalizer (DESIGN.md: normalize(x) = (x - mean) / (std + 1e-8)) ----
    def set_statistics(self, stats):
        """stats: a mapping with state_mean, state_std, action_mean, action_std,
        delta_state_mean, delta_state_std (numpy arrays)."""
        self.stats = {k: torch.as_tensor(v).float().unsqueeze(0) for k, v in stats.items()}

    def normalized_input(self, obs, act):
        s = self.stats
        return torch.cat(((obs - s["state_mean"]) / (s["state_std"] + 1e-8),
                          (act - s["action_mean"]) / (s["action_std"] + 1e-8)), -1)

    def predict_next(self, obs, act, members=None, elites=None):
        """Eval-mode next observations: row i through member members[i], or (members None)
        the mean over `elites` (default: all) of the members' means."""
        mean, _ = self.forward(self.normalized_input(obs, act))
        if members is None:
            idx = list(range(len(self.members))) if elites is None else list(elites)
            d = mean[idx].mean(0)
        else:
            d = mean[torch.as_tensor(members), torch.arange(obs.shape[0])]
        s = self.stats
        return obs + d * s["delta_state_std"] + s["delta_state_mean"]


def flat_params(model):
    """All parameters in mbrl's layout: per member its parameters in state_dict order (W, b,
    gamma, beta, ...), then max_logvar, min_logvar."""
    parts = [p.reshape(-1) for mem in model.members for p in mem.parameters()]
    if model.probabilistic:
        parts += [model.max_logvar.reshape(-1), model.min_logvar.reshape(-1)]
    return torch.cat(parts)


def flat_grads(model):
    parts = [p.grad.reshape(-1) for mem in model.members for p in mem.parameters()]
    if model.probabilistic:
        parts += [model.max_logvar.grad.reshape(-1), model.min_logvar.grad.reshape(-1)]
    return torch.cat(parts)


def flat_buffers(model):
    """BatchNorm running statistics in mbrl's layout: per member, per BN layer mean then var."""
    parts = []
    for mem in model.members:
        for mod in mem.network:
            if isinstance(mod, nn.BatchNorm1d):
                parts += [mod.running_mean.reshape(-1), mod.running_var.reshape(-1)]
    return torch.cat(parts) if parts else torch.zeros(0)
