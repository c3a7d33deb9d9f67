//! Feature engineering: turns a validated transaction and a user's stored profile into the
//! model's input vector. Pure functions only; no I/O and no model code.

use serde::{Deserialize, Serialize};

/// Number of model inputs.
pub const FEATURE_COUNT: usize = 9;

/// Model input names, in input order. They are the `feature` label of the drift gauge.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "log_amount",
    "amount_to_user_avg",
    "txn_count_24h",
    "log_account_age_days",
    "foreign_merchant",
    "chargebacks_90d",
    "night_hour",
    "card_not_present",
    "high_risk_category",
];

/// One model input row.
pub type FeatureVector = [f32; FEATURE_COUNT];

/// Merchant category of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantCategory {
    Grocery,
    Restaurant,
    Fuel,
    Travel,
    Retail,
    Electronics,
    DigitalGoods,
    GiftCards,
    Gambling,
    Crypto,
}

impl MerchantCategory {
    /// Every category, used by the synthetic data generator.
    pub const ALL: [MerchantCategory; 10] = [
        Self::Grocery,
        Self::Restaurant,
        Self::Fuel,
        Self::Travel,
        Self::Retail,
        Self::Electronics,
        Self::DigitalGoods,
        Self::GiftCards,
        Self::Gambling,
        Self::Crypto,
    ];

    /// Categories where stolen cards are cashed out most often.
    pub fn is_high_risk(self) -> bool {
        matches!(
            self,
            Self::Electronics | Self::GiftCards | Self::Gambling | Self::Crypto
        )
    }
}

/// A transaction after validation: every value is in range.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub amount: f64,
    pub merchant_category: MerchantCategory,
    pub merchant_country: String,
    pub card_present: bool,
    pub local_hour: u8,
}

/// What the feature store keeps per user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserFeatures {
    /// Mean transaction amount over 30 days.
    pub avg_amount_30d: f64,
    /// Transactions in the last 24 hours.
    pub txn_count_24h: f64,
    /// Days since the account was opened.
    pub account_age_days: f64,
    /// Chargebacks in the last 90 days.
    pub chargebacks_90d: f64,
    /// ISO 3166 alpha-2 country of the card holder.
    pub home_country: String,
}

/// Builds the model input for one transaction.
pub fn engineer(txn: &Transaction, user: &UserFeatures) -> FeatureVector {
    let avg = user.avg_amount_30d.max(1.0);
    let night = txn.local_hour < 6;
    [
        (txn.amount.max(0.0) + 1.0).ln() as f32,
        (txn.amount / avg).ln().clamp(-5.0, 8.0) as f32,
        user.txn_count_24h.clamp(0.0, 200.0) as f32,
        (user.account_age_days.max(0.0) + 1.0).ln() as f32,
        flag(
            !txn.merchant_country
                .eq_ignore_ascii_case(&user.home_country),
        ),
        user.chargebacks_90d.clamp(0.0, 50.0) as f32,
        flag(night),
        flag(!txn.card_present),
        flag(txn.merchant_category.is_high_risk()),
    ]
}

fn flag(value: bool) -> f32 {
    if value { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserFeatures {
        UserFeatures {
            avg_amount_30d: 50.0,
            txn_count_24h: 2.0,
            account_age_days: 400.0,
            chargebacks_90d: 0.0,
            home_country: "US".into(),
        }
    }

    #[test]
    fn flags_and_ratios_follow_the_transaction() {
        let txn = Transaction {
            amount: 500.0,
            merchant_category: MerchantCategory::GiftCards,
            merchant_country: "br".into(),
            card_present: false,
            local_hour: 3,
        };
        let v = engineer(&txn, &user());
        assert!((v[1] - 10f32.ln()).abs() < 1e-5);
        assert_eq!(&v[4..], &[1.0, 0.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn home_country_comparison_ignores_case() {
        let txn = Transaction {
            amount: 10.0,
            merchant_category: MerchantCategory::Grocery,
            merchant_country: "us".into(),
            card_present: true,
            local_hour: 12,
        };
        assert_eq!(engineer(&txn, &user())[4], 0.0);
    }
}
