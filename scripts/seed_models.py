"""scripts/seed_models.py - seed 003's PyTorch dynamics model, shared by the Python references.

The seed (/work/shared/seeds/003_d342f295cf1df8fa.txt) as written, with its .cuda() calls
removed: ml2_utils' normalize / unnormalize / weight_init (orthogonal weights, zero biases),
linear_bn_relu_block, MLP (Linear-BN-ReLU x2, Linear) and Model (normalizer statistics + MLP
predicting the normalized state delta). Model.set_statistics takes a `device` (default cpu)
where the seed hard-coded .cuda().

Used by scripts/make_golden_mlp.py, scripts/make_golden_planner.py,
tests/py_checkpoint_torch.py and bench/torch_reference.py. From outside scripts/, import it with
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
Needs torch (Debian's /usr/bin/python3 has torch 1.13); importing it raises ImportError without.
"""
import torch
import torch.nn as nn


# ---- ml2_utils (CS285) ----
def normalize(data, mean, std, eps=1e-8):
    return (data - mean) / (std + eps)


def unnormalize(data, mean, std):
    return data * std + mean


def weight_init(m):
    """ml2_utils.weight_init as the seed describes it: orthogonal weights, zero biases."""
    if isinstance(m, nn.Linear):
        nn.init.orthogonal_(m.weight.data)
        m.bias.data.fill_(0.0)


# ---- the seed's notebook classes ----
def linear_bn_relu_block(in_feat, out_feat, normalize=True):
    """ linear + batchnorm + leaky relu """
    layers = [nn.Linear(in_feat, out_feat)]
    if normalize:
        layers.append(nn.BatchNorm1d(out_feat))
    layers.append(nn.ReLU(inplace=True))
    return layers


class MLP(nn.Module):
    def __init__(self, state_dim, action_dim, nn_size=64):
        super(MLP, self).__init__()
        self.network = nn.Sequential(
            *linear_bn_relu_block(state_dim + action_dim, nn_size, normalize=True),
            *linear_bn_relu_block(nn_size, nn_size, normalize=True),
            nn.Linear(nn_size, state_dim)
        )
        self.apply(weight_init)

    # actions and the states should be normalizd tensores
    def forward(self, states, actions):
        state_action_input = torch.cat((states, actions), dim=-1)
        return self.network(state_action_input)


class Model(nn.Module):
    def __init__(self, state_shape, action_shape, nn_size):
        super().__init__()
        self.model = MLP(state_dim=state_shape[0], action_dim=action_shape[0], nn_size=nn_size)
        self.state_mean = None
        self.state_std = None
        self.action_mean = None
        self.action_std = None
        self.delta_state_mean = None
        self.delta_state_std = None

    def set_statistics(self, dataset, device="cpu"):
        """dataset: numpy arrays as attributes (state_mean, ..., delta_state_std), on the CPU."""
        self.state_mean = torch.from_numpy(dataset.state_mean).to(device).unsqueeze(dim=0)
        self.state_std = torch.from_numpy(dataset.state_std).to(device).unsqueeze(dim=0)
        self.action_mean = torch.from_numpy(dataset.action_mean).to(device).unsqueeze(dim=0)
        self.action_std = torch.from_numpy(dataset.action_std).to(device).unsqueeze(dim=0)
        self.delta_state_mean = torch.from_numpy(dataset.delta_state_mean).to(device).unsqueeze(
            dim=0)
        self.delta_state_std = torch.from_numpy(dataset.delta_state_std).to(device).unsqueeze(dim=0)

    def predicted_delta_state_normalized(self, states, actions):
        states_normalized = normalize(states, self.state_mean, self.state_std)
        actions_normalized = normalize(actions, self.action_mean, self.action_std)
        return self.model(states_normalized, actions_normalized)

    def predict_next_states(self, states, actions):
        predicted_delta_state_normalized = self.predicted_delta_state_normalized(states, actions)
        predicted_delta_state = unnormalize(predicted_delta_state_normalized,
                                            self.delta_state_mean, self.delta_state_std)
        return states + predicted_delta_state
