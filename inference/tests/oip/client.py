"""Drives a running server with tritonclient's HTTP client, as a KServe or Triton user
would: health, metadata, inference with JSON and with binary tensors, and the errors the
protocol defines. Reads the rows to score from a JSON file and prints one JSON object with
what the server answered, for the Rust test to check.

Usage: client.py HOST:PORT MODEL VERSION ROWS.json
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def infer(client, model, rows, binary):
    tensor = httpclient.InferInput("input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    wanted = httpclient.InferRequestedOutput("probabilities", binary_data=binary)
    result = client.infer(model, [tensor], outputs=[wanted], request_id="req-1")
    out = result.as_numpy("probabilities")
    return {
        "shape": list(out.shape),
        "dtype": str(out.dtype),
        "data": out.reshape(-1).tolist(),
        "id": result.get_response().get("id"),
    }


def refusal(call):
    try:
        call()
    except InferenceServerException as error:
        return {"status": error.status(), "message": error.message()}
    return None


def main():
    url, model, version, rows_file = sys.argv[1:5]
    with open(rows_file) as f:
        rows = np.array(json.load(f), dtype=np.float32)
    client = httpclient.InferenceServerClient(url=url)
    metadata = client.get_model_metadata(model)
    wrong_shape = httpclient.InferInput("input", [1, 4], "FP32")
    wrong_shape.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32), binary_data=False)
    report = {
        "server_live": client.is_server_live(),
        "server_ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "server_metadata": client.get_server_metadata(),
        "metadata": metadata,
        "version_metadata": client.get_model_metadata(model, model_version=version),
        "json": infer(client, model, rows, binary=False),
        "binary": infer(client, model, rows, binary=True),
        "unknown_model": refusal(lambda: client.get_model_metadata("no-such-model")),
        "unknown_model_ready": client.is_model_ready("no-such-model"),
        "infer_unknown_model": refusal(
            lambda: client.infer("no-such-model", [wrong_shape])
        ),
        "wrong_shape": refusal(lambda: client.infer(model, [wrong_shape])),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
