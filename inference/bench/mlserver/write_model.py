"""Writes an MLServer model repository for the benchmark: the baseline's scikit-learn model
(`../baseline/fraud_model.py`, trained on the rows `export_bench_data` wrote) as
`model.joblib` under the name and version the Rust server serves, with the scikit-learn
runtime's `model-settings.json`. Run with this directory's venv:

    PYTHONPATH=../baseline python write_model.py DATA_DIR REPOSITORY NAME VERSION
"""

import json
import os
import sys

import joblib

from fraud_model import train


def main():
    data_dir, repository, name, version = sys.argv[1:5]
    model_dir = os.path.join(repository, name)
    os.makedirs(model_dir, exist_ok=True)
    joblib.dump(train(data_dir), os.path.join(model_dir, "model.joblib"))
    with open(os.path.join(model_dir, "model-settings.json"), "w") as f:
        json.dump(
            {
                "name": name,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": version},
            },
            f,
        )


if __name__ == "__main__":
    main()
