"""Benchmark baseline: the fraud service written the way such services commonly are in
Python -- FastAPI with pydantic validation, an in-memory user-feature dict and a
scikit-learn MLP (same nine engineered features, same 16-unit hidden layer), served by
one uvicorn worker.

Inputs come from the Rust example `export_bench_data` (same synthetic users and
training rows as the Rust server). Run: BENCH_DATA=DIR uvicorn app:app --port 9100
"""

import json
import math
import os
from typing import Literal, Optional

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from fraud_model import train

DATA = os.environ.get("BENCH_DATA", ".")
HIGH_RISK = {"electronics", "gift_cards", "gambling", "crypto"}
REVIEW, BLOCK = 0.15, 0.5

with open(os.path.join(DATA, "users.json")) as f:
    USERS = json.load(f)
DEFAULT_USER = {
    "avg_amount_30d": 60.0,
    "txn_count_24h": 2.0,
    "account_age_days": 1800.0,
    "chargebacks_90d": 0.0,
    "home_country": "US",
}

MODEL = train(DATA)


class Transaction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transaction_id: Optional[str] = None
    user_id: str = Field(min_length=1, max_length=128)
    amount: float = Field(gt=0, le=1_000_000)
    currency: Optional[str] = None
    merchant_category: Literal[
        "grocery", "restaurant", "fuel", "travel", "retail", "electronics",
        "digital_goods", "gift_cards", "gambling", "crypto",
    ]
    merchant_country: str = Field(min_length=2, max_length=2)
    card_present: bool
    local_hour: int = Field(ge=0, le=23)


def engineer(t: Transaction, u: dict) -> list:
    avg = max(u["avg_amount_30d"], 1.0)
    return [
        math.log(max(t.amount, 0.0) + 1.0),
        min(max(math.log(t.amount / avg), -5.0), 8.0),
        min(max(u["txn_count_24h"], 0.0), 200.0),
        math.log(max(u["account_age_days"], 0.0) + 1.0),
        float(t.merchant_country.upper() != u["home_country"].upper()),
        min(max(u["chargebacks_90d"], 0.0), 50.0),
        float(t.local_hour < 6),
        float(not t.card_present),
        float(t.merchant_category in HIGH_RISK),
    ]


app = FastAPI()


@app.post("/v1/predict")
def predict(t: Transaction):
    user = USERS.get(t.user_id)
    features = engineer(t, user or DEFAULT_USER)
    p = float(MODEL.predict_proba(np.array([features], dtype=np.float32))[0, 1])
    decision = "block" if p >= BLOCK else "review" if p >= REVIEW else "approve"
    return {
        "transaction_id": t.transaction_id,
        "decision": decision,
        "fraud_probability": p,
        "features_defaulted": user is None,
    }


@app.get("/healthz")
def healthz():
    return {"status": "alive"}
