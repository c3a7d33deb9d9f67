//! The domain the model, the feature store and the pipeline share: transactions, user
//! profiles, and the feature engineering that turns them into the model's input vector;
//! [`synth`] makes a seeded synthetic population of both. Pure functions only; no I/O and
//! no model code.

pub mod inputs;
pub mod synth;

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
    /// The name in requests and in the feature store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grocery => "grocery",
            Self::Restaurant => "restaurant",
            Self::Fuel => "fuel",
            Self::Travel => "travel",
            Self::Retail => "retail",
            Self::Electronics => "electronics",
            Self::DigitalGoods => "digital_goods",
            Self::GiftCards => "gift_cards",
            Self::Gambling => "gambling",
            Self::Crypto => "crypto",
        }
    }

    /// The category of a stored name; `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

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

/// An ISO 3166 alpha-2 country code: two ASCII letters, kept upper case. Inline and
/// `Copy`, so a transaction or a stored profile carries one without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// A code written in the source; a typo fails the build where it is evaluated as a
    /// constant.
    pub const fn from_static(code: &[u8; 2]) -> Self {
        assert!(code[0].is_ascii_uppercase() && code[1].is_ascii_uppercase());
        Self(*code)
    }

    /// Two ASCII letters in either case; `None` for anything else.
    pub fn parse(code: &str) -> Option<Self> {
        let letters: [u8; 2] = code.as_bytes().try_into().ok()?;
        letters
            .iter()
            .all(u8::is_ascii_alphabetic)
            .then(|| Self(letters.map(|b| b.to_ascii_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{code:?} is not a two-letter ISO 3166 country code"
            ))
        })
    }
}

/// A transaction after validation: every value is in range.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub amount: f64,
    pub merchant_category: MerchantCategory,
    pub merchant_country: CountryCode,
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
    /// Country of the card holder.
    pub home_country: CountryCode,
}

/// What the feature store keeps per merchant: where it trades and what it sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantProfile {
    pub merchant_category: MerchantCategory,
    pub merchant_country: CountryCode,
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
        flag(txn.merchant_country != user.home_country),
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

    fn country(code: &str) -> CountryCode {
        CountryCode::parse(code).unwrap()
    }

    fn user() -> UserFeatures {
        UserFeatures {
            avg_amount_30d: 50.0,
            txn_count_24h: 2.0,
            account_age_days: 400.0,
            chargebacks_90d: 0.0,
            home_country: country("US"),
        }
    }

    #[test]
    fn flags_and_ratios_follow_the_transaction() {
        let txn = Transaction {
            amount: 500.0,
            merchant_category: MerchantCategory::GiftCards,
            merchant_country: country("br"),
            card_present: false,
            local_hour: 3,
        };
        let v = engineer(&txn, &user());
        assert!((v[1] - 10f32.ln()).abs() < 1e-5);
        assert_eq!(&v[4..], &[1.0, 0.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn country_codes_are_two_letters_in_either_case() {
        assert_eq!(country("de").as_str(), "DE");
        for bad in ["", "D", "DEU", "1A", "D-", "ÄÖ"] {
            assert!(CountryCode::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&country("fr")).unwrap(), r#""FR""#);
        let parsed: CountryCode = serde_json::from_str(r#""nl""#).unwrap();
        assert_eq!(parsed, country("NL"));
        assert!(serde_json::from_str::<CountryCode>(r#""NLD""#).is_err());
    }

    #[test]
    fn home_country_comparison_ignores_case() {
        let txn = Transaction {
            amount: 10.0,
            merchant_category: MerchantCategory::Grocery,
            merchant_country: country("us"),
            card_present: true,
            local_hour: 12,
        };
        assert_eq!(engineer(&txn, &user())[4], 0.0);
    }
}
