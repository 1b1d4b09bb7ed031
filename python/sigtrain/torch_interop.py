"""PyTorch interop: a sigtrain model as a torch.nn.Sequential and back. torch stays optional: it is
imported only when one of these functions is called.

to_torch gives Linear layers with the model's weights, each hidden one followed by the hidden
activation, the last by nn.Sigmoid for a sigmoid output (nothing for a linear one). A standardised
model's statistics are FOLDED into the Linear layers, so the Sequential takes and returns the data's
own units, as `sigtrain predict` does: inputs x' = (x − m)/s make the first layer W·diag(1/s) with bias
b − W·(m/s); targets y = ŷ'·s + m make the last layer diag(s)·W with bias s·b + m (a Linear gains a bias
for this where the model has none). Target standardisation under a sigmoid output cannot be folded
into a Linear (the scaling comes after the sigmoid) and is refused with a ValueError.

from_torch reads a Sequential of nn.Linear, nn.Sigmoid, nn.Tanh and nn.ReLU back: one activation kind
after every hidden Linear (sigtrain has one hidden activation), nothing or nn.Sigmoid after the last.
If any Linear has a bias the model has biases (zeros where a Linear had none). The model is fresh
(plain sgd, loss mse) with no standardisation. Anything else is a ValueError naming the module.
"""

import numpy as np

from . import _core
from .model_file import ModelView, fresh_model_text

# sigtrain's activation names and torch's modules, in both directions.
_TORCH_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU"}


def to_torch(model_text, dtype=None):
    """An nn.Sequential computing what the model file's text predicts (`dtype`: the parameters'
    torch dtype, default torch's default dtype)."""
    import torch
    from torch import nn

    view = ModelView(model_text)
    weights, biases = _folded_parameters(view)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    modules = []
    last = len(weights) - 1
    for l, (w, b) in enumerate(zip(weights, biases)):
        linear = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            if b is not None:
                linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        activation = view.hidden_activation if l < last else view.output_activation
        if activation != "linear":
            modules.append(getattr(nn, _TORCH_ACTIVATIONS[activation])())
    return nn.Sequential(*modules)


def _folded_parameters(view):
    """The model's weights and biases (float64, (n_out, n_in)) with its standardisation folded in."""
    weights = [w.copy() for w in view.weights]
    biases = [None if b is None else b.copy() for b in view.biases]
    if view.input_standardization is not None:
        mean, scale = view.input_standardization
        w = weights[0]
        b = biases[0] if biases[0] is not None else np.zeros(w.shape[0])
        biases[0] = b - w @ (mean / scale)
        weights[0] = w / scale[np.newaxis, :]
    if view.target_standardization is not None:
        if view.output_activation != "linear":
            raise ValueError("to_torch: this model standardises its targets under a "
                             f"{view.output_activation} output; the scaling comes after the output activation "
                             "and cannot be folded into a Linear layer")
        mean, scale = view.target_standardization
        w = weights[-1]
        b = biases[-1] if biases[-1] is not None else np.zeros(w.shape[0])
        biases[-1] = scale * b + mean
        weights[-1] = scale[:, np.newaxis] * w
    return weights, biases


def from_torch(sequential):
    """A fitted sigtrain.MLPRegressor with the weights of an nn.Sequential of Linear layers and
    Sigmoid/Tanh/ReLU activations (module docstring: what is accepted)."""
    import torch
    from torch import nn

    from .estimator import MLPRegressor

    if not isinstance(sequential, nn.Sequential):
        raise ValueError(f"from_torch: expected a torch.nn.Sequential, got {type(sequential).__name__}")
    names = {module_name: name for name, module_name in _TORCH_ACTIVATIONS.items()}
    linears, after = [], []  # after[l]: the activation names that follow Linear l
    for index, module in enumerate(sequential):
        kind = type(module).__name__
        if isinstance(module, nn.Linear):
            linears.append(module)
            after.append([])
        elif type(module) in (nn.Sigmoid, nn.Tanh, nn.ReLU) and linears:
            after[-1].append(names[kind])
        else:
            where = "before the first Linear" if not linears and type(module) in (nn.Sigmoid, nn.Tanh, nn.ReLU) \
                else "only Linear, Sigmoid, Tanh and ReLU are supported"
            raise ValueError(f"from_torch: module {index} ({kind}): {where}")
    if not linears:
        raise ValueError("from_torch: the Sequential has no Linear layer")
    hidden = {tuple(a) for a in after[:-1]}
    if len(hidden) > 1 or (hidden and len(next(iter(hidden))) != 1):
        raise ValueError("from_torch: sigtrain needs exactly one activation after every hidden Linear, the same "
                         f"for all; found {[a or ['none'] for a in after[:-1]]}")
    if after[-1] not in ([], ["sigmoid"]):
        raise ValueError(f"from_torch: after the last Linear sigtrain takes nothing (a linear output) or Sigmoid; "
                         f"found {after[-1]}")
    for l in range(1, len(linears)):
        if linears[l].in_features != linears[l - 1].out_features:
            raise ValueError(f"from_torch: Linear {l} takes {linears[l].in_features} inputs but Linear {l - 1} "
                             f"gives {linears[l - 1].out_features}")
    with torch.no_grad():
        weights = [linear.weight.detach().cpu().double().numpy() for linear in linears]
        any_bias = any(linear.bias is not None for linear in linears)
        biases = ([linear.bias.detach().cpu().double().numpy() if linear.bias is not None
                   else np.zeros(linear.out_features) for linear in linears] if any_bias else None)
    hidden_activation = after[0][0] if len(linears) > 1 else "sigmoid"
    output_activation = "sigmoid" if after[-1] else "linear"
    # The library's own text of it (the bytes `sigtrain train --save` would write for these weights).
    text = _core.model_text(fresh_model_text(weights, biases, hidden_activation, output_activation))
    return MLPRegressor.from_model_text(text)
