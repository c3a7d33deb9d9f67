"""The scikit-learn model both Python servers of the benchmark score with: a 16-unit MLP
after a standard scaler, over the nine engineered features of the Rust server, trained on
the rows `export_bench_data` writes (`train.csv`: the features, then the label)."""

import csv
import os

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def train(data_dir):
    with open(os.path.join(data_dir, "train.csv")) as f:
        rows = list(csv.reader(f))[1:]
    x = np.array([[float(v) for v in r[:-1]] for r in rows], dtype=np.float32)
    y = np.array([int(r[-1]) for r in rows])
    return make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=42),
    ).fit(x, y)
