"""The model file (README "Files": JSON, version 2) as Python sees it.

The library reads, validates and writes model files; this module only reads the few members Python
needs (widths, weights, standardisation) and builds a fresh model's members for `from_torch` (which the
library then writes in its own format: _core.model_text). Files are read and written by the library
(_core.save_model). Anything malformed is left for the library to refuse with its own message.
"""

import json

import numpy as np


class ModelView:
    """The members of a model file's text that the Python side uses, as NumPy arrays.

    weights[l] has the file's (and nn.Linear's) layout, (n_out, n_in); biases[l] is None where the
    network has no bias. input_standardization / target_standardization are (mean, scale) pairs of
    arrays, or None where that side is not standardised.
    """

    def __init__(self, text):
        document = json.loads(text)
        self.layers = [int(w) for w in document["layers"]]
        self.bias = bool(document["bias"])
        # Version 1 files have no activations: the notes' sigmoid hidden layers and linear output.
        self.hidden_activation = document.get("hidden_activation", "sigmoid")
        self.output_activation = document.get("output_activation", "linear")
        self.loss = document.get("loss", "mse")
        self.optimizer = document.get("optimizer", {"name": "sgd"})
        self.weights = [np.asarray(w, dtype=np.float64).reshape(n_out, n_in)
                        for w, n_in, n_out in zip(document["weights"], self.layers[:-1], self.layers[1:])]
        self.biases = ([np.asarray(b, dtype=np.float64) for b in document["biases"]] if self.bias
                       else [None] * len(self.weights))
        sides = document.get("standardization", {})
        self.input_standardization = _mean_and_scale(sides.get("inputs"))
        self.target_standardization = _mean_and_scale(sides.get("targets"))

    @property
    def standardize(self):
        """The `--standardize` value that made this model."""
        inputs = self.input_standardization is not None
        targets = self.target_standardization is not None
        return {(False, False): "none", (True, False): "inputs", (False, True): "targets",
                (True, True): "both"}[(inputs, targets)]


def _mean_and_scale(side):
    if side is None:
        return None
    return np.asarray(side["mean"], dtype=np.float64), np.asarray(side["scale"], dtype=np.float64)


def fresh_model_text(weights, biases, hidden_activation, output_activation, loss="mse"):
    """A model file's text for these parameters (weights[l] as (n_out, n_in); biases None, or a list
    with one vector per layer), trained by nothing yet: plain sgd with the library's default settings
    and a fresh state, no standardisation. Python's float repr is the shortest text that reads back
    to the same double, as the library's writer uses, so the numbers survive exactly."""
    layers = [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights]
    document = {
        "format": "sigtrain-model",
        "version": 2,
        "layers": layers,
        "bias": biases is not None,
        "hidden_activation": hidden_activation,
        "output_activation": output_activation,
        "loss": loss,
        "weights": [np.asarray(w, dtype=np.float64).tolist() for w in weights],
    }
    if biases is not None:
        document["biases"] = [np.asarray(b, dtype=np.float64).tolist() for b in biases]
    document["optimizer"] = {"name": "sgd", "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08,
                             "weight_decay": 0.0, "steps": 0, "state": {}}
    return json.dumps(document, indent=2) + "\n"
