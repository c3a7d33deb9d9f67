//! Completing a transaction the request described only in part: the inputs it carries,
//! then the merchant's stored profile, then the population's defaults, with a record of
//! which inputs were defaulted. Pure functions; the lookups happen in the pipeline.

use serde::Serialize;

use crate::features::{CountryCode, MerchantCategory, MerchantProfile, Transaction, UserFeatures};

/// The transaction inputs of a request: the amount always, the rest when it said them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransactionInputs {
    pub amount: f64,
    pub merchant_category: Option<MerchantCategory>,
    pub merchant_country: Option<CountryCode>,
    pub card_present: Option<bool>,
    pub local_hour: Option<u8>,
}

/// Values for the transaction inputs a request and the feature store leave open. Each is
/// the most common value of the model input it feeds in the training population
/// (`synth`), so a defaulted input moves the score as little as a guess can: 60 % of
/// transactions are card-present, 88 % are domestic, 88 % are in daytime hours and 60 %
/// are at merchants outside the high-risk categories (a test checks these shares).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransactionDefaults {
    pub merchant_category: MerchantCategory,
    pub card_present: bool,
    pub local_hour: u8,
}

pub const TRANSACTION_DEFAULTS: TransactionDefaults = TransactionDefaults {
    merchant_category: MerchantCategory::Retail,
    card_present: true,
    local_hour: 12,
};

/// How a payment was made, as the fraud API this server replaces named it. Only whether
/// a card was checked at a terminal reaches the model (`card_not_present`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    /// A card read at a terminal: `card_present`, `pos`, `chip`, `contactless`, `in_store`.
    CardPresent,
    /// A card keyed in remotely: `card_not_present`, `online`, `ecommerce`.
    CardNotPresent,
    /// No card checked at a terminal: `wallet`, `digital_wallet`, `bank_transfer`, `ach`,
    /// `sepa`, `paypal`.
    Remote,
    /// `card`, which does not say whether the card was present.
    Card,
}

impl PaymentMethod {
    /// The accepted spellings, for error messages.
    pub const ACCEPTED: &'static str = "card, card_present, pos, chip, contactless, in_store, \
        card_not_present, online, ecommerce, wallet, digital_wallet, bank_transfer, ach, sepa, \
        paypal (case, spaces and hyphens ignored)";

    /// Parses a method in any case, with spaces or hyphens for underscores; `None` for an
    /// unknown one.
    pub fn parse(text: &str) -> Option<Self> {
        let mut buffer = [0u8; 24];
        let bytes = text.trim().as_bytes();
        if bytes.len() > buffer.len() {
            return None;
        }
        for (out, &b) in buffer.iter_mut().zip(bytes) {
            *out = match b {
                b' ' | b'-' => b'_',
                other => other.to_ascii_lowercase(),
            };
        }
        Some(match &buffer[..bytes.len()] {
            b"card_present" | b"pos" | b"chip" | b"contactless" | b"in_store" => Self::CardPresent,
            b"card_not_present" | b"online" | b"ecommerce" | b"e_commerce" => Self::CardNotPresent,
            b"wallet" | b"digital_wallet" | b"bank_transfer" | b"ach" | b"sepa" | b"paypal" => {
                Self::Remote
            }
            b"card" => Self::Card,
            _ => return None,
        })
    }

    /// The `card_present` input it implies; `None` when it implies nothing.
    pub fn card_present(self) -> Option<bool> {
        match self {
            Self::CardPresent => Some(true),
            Self::CardNotPresent | Self::Remote => Some(false),
            Self::Card => None,
        }
    }
}

/// Which inputs of one prediction came from population defaults, as a set of bits:
/// inline and `Copy`, so recording it costs nothing on the path of a complete request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultedInputs(u8);

impl DefaultedInputs {
    /// The user's stored profile (amount average, counts, account age, home country).
    pub const USER_PROFILE: Self = Self(1);
    pub const MERCHANT_CATEGORY: Self = Self(1 << 1);
    pub const MERCHANT_COUNTRY: Self = Self(1 << 2);
    pub const CARD_PRESENT: Self = Self(1 << 3);
    pub const LOCAL_HOUR: Self = Self(1 << 4);

    const NAMES: [(Self, &'static str); 5] = [
        (Self::USER_PROFILE, "user_profile"),
        (Self::MERCHANT_CATEGORY, "merchant_category"),
        (Self::MERCHANT_COUNTRY, "merchant_country"),
        (Self::CARD_PRESENT, "card_present"),
        (Self::LOCAL_HOUR, "local_hour"),
    ];

    pub fn insert(&mut self, input: Self) {
        self.0 |= input.0;
    }

    pub fn contains(self, input: Self) -> bool {
        self.0 & input.0 == input.0 && input.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names of the defaulted inputs, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(input, _)| self.contains(*input))
            .map(|(_, name)| name)
    }
}

impl Serialize for DefaultedInputs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

/// The transaction to score: each input from the request, else from the merchant's
/// profile, else the default. A merchant country nobody said is taken to be the user's
/// home country (most transactions are domestic), and still listed as defaulted.
pub fn complete(
    inputs: &TransactionInputs,
    user: &UserFeatures,
    merchant: Option<&MerchantProfile>,
    defaults: &TransactionDefaults,
) -> (Transaction, DefaultedInputs) {
    let mut defaulted = DefaultedInputs::default();
    let merchant_category = pick(
        inputs
            .merchant_category
            .or(merchant.map(|m| m.merchant_category)),
        defaults.merchant_category,
        DefaultedInputs::MERCHANT_CATEGORY,
        &mut defaulted,
    );
    let merchant_country = pick(
        inputs
            .merchant_country
            .or(merchant.map(|m| m.merchant_country)),
        user.home_country,
        DefaultedInputs::MERCHANT_COUNTRY,
        &mut defaulted,
    );
    let card_present = pick(
        inputs.card_present,
        defaults.card_present,
        DefaultedInputs::CARD_PRESENT,
        &mut defaulted,
    );
    let local_hour = pick(
        inputs.local_hour,
        defaults.local_hour,
        DefaultedInputs::LOCAL_HOUR,
        &mut defaulted,
    );
    let transaction = Transaction {
        amount: inputs.amount,
        merchant_category,
        merchant_country,
        card_present,
        local_hour,
    };
    (transaction, defaulted)
}

/// `value`, or `default` with `input` recorded as defaulted.
fn pick<T>(
    value: Option<T>,
    default: T,
    input: DefaultedInputs,
    defaulted: &mut DefaultedInputs,
) -> T {
    value.unwrap_or_else(|| {
        defaulted.insert(input);
        default
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::synth;

    fn user() -> UserFeatures {
        UserFeatures {
            avg_amount_30d: 50.0,
            txn_count_24h: 2.0,
            account_age_days: 400.0,
            chargebacks_90d: 0.0,
            home_country: CountryCode::from_static(b"FR"),
        }
    }

    #[test]
    fn payment_methods_parse_in_any_spelling() {
        assert_eq!(PaymentMethod::parse("card"), Some(PaymentMethod::Card));
        assert_eq!(
            PaymentMethod::parse("Bank Transfer"),
            Some(PaymentMethod::Remote)
        );
        assert_eq!(
            PaymentMethod::parse("card-not-present"),
            Some(PaymentMethod::CardNotPresent)
        );
        assert_eq!(
            PaymentMethod::parse(" CHIP "),
            Some(PaymentMethod::CardPresent)
        );
        for bad in ["", "cheque", "a very long payment method name", "cardx"] {
            assert_eq!(PaymentMethod::parse(bad), None, "{bad}");
        }
        assert_eq!(PaymentMethod::Card.card_present(), None);
        assert_eq!(PaymentMethod::Remote.card_present(), Some(false));
    }

    #[test]
    fn request_then_merchant_then_defaults() {
        let merchant = MerchantProfile {
            merchant_category: MerchantCategory::Crypto,
            merchant_country: CountryCode::from_static(b"NG"),
        };
        let inputs = TransactionInputs {
            amount: 10.0,
            merchant_category: Some(MerchantCategory::Grocery),
            merchant_country: None,
            card_present: Some(false),
            local_hour: None,
        };
        let (txn, defaulted) = complete(&inputs, &user(), Some(&merchant), &TRANSACTION_DEFAULTS);
        assert_eq!(txn.merchant_category, MerchantCategory::Grocery);
        assert_eq!(txn.merchant_country.as_str(), "NG");
        assert!(!txn.card_present);
        assert_eq!(txn.local_hour, 12);
        assert_eq!(defaulted.names().collect::<Vec<_>>(), ["local_hour"]);

        let (txn, defaulted) = complete(&inputs, &user(), None, &TRANSACTION_DEFAULTS);
        assert_eq!(
            txn.merchant_country.as_str(),
            "FR",
            "the user's home country"
        );
        assert_eq!(
            serde_json::to_string(&defaulted).unwrap(),
            r#"["merchant_country","local_hour"]"#
        );
    }

    /// The defaults are the most common value of each input in the training population.
    #[test]
    fn defaults_are_the_populations_most_common_inputs() {
        let users = synth::users(42, 2_000);
        let examples = synth::examples(42, &users, 20_000);
        let share = |f: &dyn Fn(&synth::Example) -> bool| {
            examples.iter().filter(|e| f(e)).count() as f64 / examples.len() as f64
        };
        let d = TRANSACTION_DEFAULTS;
        assert!(share(&|e| e.transaction.card_present == d.card_present) > 0.5);
        assert!(share(&|e| (e.transaction.local_hour < 6) == (d.local_hour < 6)) > 0.5);
        assert!(
            share(&|e| {
                e.transaction.merchant_category.is_high_risk() == d.merchant_category.is_high_risk()
            }) > 0.5
        );
        assert!(share(&|e| e.transaction.merchant_country == e.user.home_country) > 0.5);
    }
}
