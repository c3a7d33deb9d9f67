//! Prediction request bodies the tests, the e2e traffic and the load generator send: one
//! routine transaction, and a deterministic sequence that varies every input. All of them
//! are valid requests; what a test breaks on purpose it breaks itself.

use serde_json::{Value, json};

/// Merchant categories the varied sequence cycles through, risky ones included.
const CATEGORIES: [&str; 6] = [
    "grocery",
    "restaurant",
    "travel",
    "electronics",
    "gift_cards",
    "crypto",
];

/// A routine transaction of `user`: a small card-present grocery purchase at home.
pub fn transaction(user: &str) -> Value {
    json!({
        "transaction_id": "txn-1",
        "user_id": user,
        "amount": 42.5,
        "currency": "USD",
        "merchant_category": "grocery",
        "merchant_country": "US",
        "card_present": true,
        "local_hour": 14
    })
}

/// The `n`-th transaction of a deterministic sequence: every fifth user is unknown to the
/// feature store, the others are among the 10,000 synthetic users; amount, category,
/// country, card presence and hour vary with `n`.
pub fn varied_transaction(n: usize) -> Value {
    let user = if n.is_multiple_of(5) {
        format!("unknown-user-{n}")
    } else {
        format!("user-{:06}", n % 10_000)
    };
    json!({
        "user_id": user,
        "amount": 5.0 + (n % 97) as f64 * 13.0,
        "currency": "EUR",
        "merchant_category": CATEGORIES[n % CATEGORIES.len()],
        "merchant_country": if n.is_multiple_of(7) { "BR" } else { "DE" },
        "card_present": !n.is_multiple_of(3),
        "local_hour": (n % 24) as u8,
    })
}
