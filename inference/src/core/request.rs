//! Prediction request bodies in their two shapes, and their validation into domain types.
//! No I/O and no HTTP.
//!
//! - **Transaction shape** (this server's own): every transaction input is sent
//!   (`merchant_category`, `merchant_country`, `card_present`, `local_hour`); an unknown
//!   field is refused, since a typo would otherwise be scored as if it were absent.
//! - **Fraud-API shape** (the API this server replaces): `user_id` may be a number,
//!   `payment_method` and `merchant_id` may be sent, and any transaction input may be left
//!   out; the merchant's profile, then population defaults, fill what is missing. Unknown
//!   fields are ignored (never echoed or logged), as that API ignored them, so its clients
//!   keep working.
//!
//! A body is in the fraud-API shape when it sends `payment_method` or `merchant_id`, a
//! numeric `user_id`, or none of the four transaction inputs; else in the transaction
//! shape. Both are read in one pass with strings borrowed from the body.

use std::borrow::Cow;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::core::schema::{FieldError, MAX_AMOUNT, MAX_ID_LEN, Text};
use crate::features::inputs::{PaymentMethod, TransactionInputs};
use crate::features::{CountryCode, MerchantCategory};

/// Which of the two request shapes a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Transaction,
    FraudApi,
}

/// A transaction to score, borrowing its strings from the request body.
#[derive(Debug, Clone, Serialize)]
pub struct PredictRequest<'a> {
    /// Echoed back; never logged.
    pub transaction_id: Option<Text<'a>>,
    /// A numeric id is kept as its decimal text.
    pub user_id: Text<'a>,
    pub amount: f64,
    /// ISO 4217 code.
    pub currency: Option<Text<'a>>,
    pub merchant_category: Option<MerchantCategory>,
    /// ISO 3166 alpha-2 code of the merchant.
    pub merchant_country: Option<Text<'a>>,
    pub card_present: Option<bool>,
    /// Hour of day at the card holder's location, 0-23.
    pub local_hour: Option<u8>,
    pub payment_method: Option<Text<'a>>,
    /// Looked up in the feature store for the merchant's category and country.
    pub merchant_id: Option<Text<'a>>,
    pub shape: Shape,
}

/// Several transactions scored together.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest<'a> {
    #[serde(borrow)]
    pub transactions: Vec<PredictRequest<'a>>,
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct ValidRequest<'a> {
    pub transaction_id: Option<Text<'a>>,
    pub user_id: Text<'a>,
    pub merchant_id: Option<Text<'a>>,
    pub currency: Option<Text<'a>>,
    pub inputs: TransactionInputs,
    pub shape: Shape,
}

impl ValidRequest<'_> {
    /// Whether the merchant's profile would fill an input the request left open.
    pub fn needs_merchant(&self) -> bool {
        self.merchant_id.is_some()
            && (self.inputs.merchant_category.is_none() || self.inputs.merchant_country.is_none())
    }
}

const FIELDS: &[&str] = &[
    "transaction_id",
    "user_id",
    "amount",
    "currency",
    "merchant_category",
    "merchant_country",
    "card_present",
    "local_hour",
    "payment_method",
    "merchant_id",
];

#[derive(Clone, Copy)]
enum Field {
    TransactionId,
    UserId,
    Amount,
    Currency,
    MerchantCategory,
    MerchantCountry,
    CardPresent,
    LocalHour,
    PaymentMethod,
    MerchantId,
}

impl Field {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "transaction_id" => Self::TransactionId,
            "user_id" => Self::UserId,
            "amount" => Self::Amount,
            "currency" => Self::Currency,
            "merchant_category" => Self::MerchantCategory,
            "merchant_country" => Self::MerchantCountry,
            "card_present" => Self::CardPresent,
            "local_hour" => Self::LocalHour,
            "payment_method" => Self::PaymentMethod,
            "merchant_id" => Self::MerchantId,
            _ => return None,
        })
    }
}

/// A key of the request object: a field, or the name of an unknown one (kept for the
/// error of the transaction shape; borrowed unless it holds escapes).
enum Key<'de> {
    Known(Field),
    Unknown(Cow<'de, str>),
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::of(v).map_or(Key::Unknown(Cow::Borrowed(v)), Key::Known))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::of(v).map_or_else(|| Key::Unknown(Cow::Owned(v.to_owned())), Key::Known))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// `user_id` as a string, or as a non-negative integer (kept as its decimal text).
struct UserId<'a> {
    text: Text<'a>,
    numeric: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for UserId<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = UserId<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a non-negative integer")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(UserId::text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(UserId::text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(UserId::text(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(UserId {
                    text: Text(Cow::Owned(v.to_string())),
                    numeric: true,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

impl<'a> UserId<'a> {
    fn text(text: Cow<'a, str>) -> Self {
        Self {
            text: Text(text),
            numeric: false,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for PredictRequest<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("PredictRequest", FIELDS, RequestVisitor)
    }
}

struct RequestVisitor;

/// Reads a field's value once; a second occurrence of the key is an error, as serde's
/// derived impls make it.
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = PredictRequest<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a transaction object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Optional fields are read as `Option<Option<T>>`: the outer level says the key
        // was seen (for duplicates), the inner one that its value was not null.
        let mut transaction_id: Option<Option<Text<'de>>> = None;
        let mut user_id: Option<UserId<'de>> = None;
        let mut amount: Option<f64> = None;
        let mut currency: Option<Option<Text<'de>>> = None;
        let mut merchant_category: Option<Option<MerchantCategory>> = None;
        let mut merchant_country: Option<Option<Text<'de>>> = None;
        let mut card_present: Option<Option<bool>> = None;
        let mut local_hour: Option<Option<u8>> = None;
        let mut payment_method: Option<Option<Text<'de>>> = None;
        let mut merchant_id: Option<Option<Text<'de>>> = None;
        let mut unknown: Option<Cow<'de, str>> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let read = match key {
                Key::Known(Field::TransactionId) => {
                    once(&mut map, &mut transaction_id, "transaction_id")
                }
                Key::Known(Field::UserId) => once(&mut map, &mut user_id, "user_id"),
                Key::Known(Field::Amount) => once(&mut map, &mut amount, "amount"),
                Key::Known(Field::Currency) => once(&mut map, &mut currency, "currency"),
                Key::Known(Field::MerchantCategory) => {
                    once(&mut map, &mut merchant_category, "merchant_category")
                }
                Key::Known(Field::MerchantCountry) => {
                    once(&mut map, &mut merchant_country, "merchant_country")
                }
                Key::Known(Field::CardPresent) => once(&mut map, &mut card_present, "card_present"),
                Key::Known(Field::LocalHour) => once(&mut map, &mut local_hour, "local_hour"),
                Key::Known(Field::PaymentMethod) => {
                    once(&mut map, &mut payment_method, "payment_method")
                }
                Key::Known(Field::MerchantId) => once(&mut map, &mut merchant_id, "merchant_id"),
                Key::Unknown(name) => {
                    unknown.get_or_insert(name);
                    map.next_value::<IgnoredAny>().map(|_| ())
                }
            };
            read?;
        }
        let user_id = user_id.ok_or_else(|| de::Error::missing_field("user_id"))?;
        let amount = amount.ok_or_else(|| de::Error::missing_field("amount"))?;
        let (merchant_category, merchant_country, card_present, local_hour) = (
            merchant_category.flatten(),
            merchant_country.flatten(),
            card_present.flatten(),
            local_hour.flatten(),
        );
        let (payment_method, merchant_id) = (payment_method.flatten(), merchant_id.flatten());
        let says_no_input = merchant_category.is_none()
            && merchant_country.is_none()
            && card_present.is_none()
            && local_hour.is_none();
        let shape = if payment_method.is_some()
            || merchant_id.is_some()
            || user_id.numeric
            || says_no_input
        {
            Shape::FraudApi
        } else {
            Shape::Transaction
        };
        if shape == Shape::Transaction {
            if merchant_category.is_none() {
                return Err(de::Error::missing_field("merchant_category"));
            }
            if merchant_country.is_none() {
                return Err(de::Error::missing_field("merchant_country"));
            }
            if card_present.is_none() {
                return Err(de::Error::missing_field("card_present"));
            }
            if local_hour.is_none() {
                return Err(de::Error::missing_field("local_hour"));
            }
            if let Some(name) = unknown {
                return Err(de::Error::unknown_field(&name, FIELDS));
            }
        }
        Ok(PredictRequest {
            transaction_id: transaction_id.flatten(),
            user_id: user_id.text,
            amount,
            currency: currency.flatten(),
            merchant_category,
            merchant_country,
            card_present,
            local_hour,
            payment_method,
            merchant_id,
            shape,
        })
    }
}

fn check_id(id: &str, field: impl FnOnce() -> String) -> Result<(), FieldError> {
    if id.trim().is_empty() || id.len() > MAX_ID_LEN {
        return Err(FieldError::new(
            field(),
            format!("must be 1 to {MAX_ID_LEN} characters"),
        ));
    }
    Ok(())
}

impl<'a> PredictRequest<'a> {
    /// Checks ranges; `prefix` is prepended to field names (`transactions[3].`).
    pub fn validate(self, prefix: &str) -> Result<ValidRequest<'a>, FieldError> {
        let field = |name: &str| format!("{prefix}{name}");
        if let Some(id) = &self.transaction_id
            && (id.is_empty() || id.len() > MAX_ID_LEN)
        {
            return Err(FieldError::new(
                field("transaction_id"),
                format!("must be 1 to {MAX_ID_LEN} characters"),
            ));
        }
        check_id(&self.user_id, || field("user_id"))?;
        if let Some(id) = &self.merchant_id {
            check_id(id, || field("merchant_id"))?;
        }
        if !self.amount.is_finite() || self.amount <= 0.0 {
            return Err(FieldError::new(
                field("amount"),
                "must be a positive number",
            ));
        }
        if self.amount > MAX_AMOUNT {
            return Err(FieldError::new(
                field("amount"),
                format!("must not exceed {MAX_AMOUNT}"),
            ));
        }
        if let Some(currency) = &self.currency
            && !is_upper_code(currency, 3)
        {
            return Err(FieldError::new(
                field("currency"),
                "must be a three-letter ISO 4217 code such as \"EUR\"",
            ));
        }
        let merchant_country = match &self.merchant_country {
            None => None,
            Some(code) => Some(CountryCode::parse(code).ok_or_else(|| {
                FieldError::new(
                    field("merchant_country"),
                    "must be a two-letter ISO 3166 country code such as \"DE\"",
                )
            })?),
        };
        if self.local_hour.is_some_and(|hour| hour > 23) {
            return Err(FieldError::new(
                field("local_hour"),
                "must be between 0 and 23",
            ));
        }
        let paid_with = match &self.payment_method {
            None => None,
            Some(method) => Some(PaymentMethod::parse(method).ok_or_else(|| {
                FieldError::new(
                    field("payment_method"),
                    format!("must be one of {}", PaymentMethod::ACCEPTED),
                )
            })?),
        };
        // A `card_present` the request states wins over what its payment method implies.
        let card_present = self
            .card_present
            .or_else(|| paid_with.and_then(PaymentMethod::card_present));
        Ok(ValidRequest {
            transaction_id: self.transaction_id,
            user_id: self.user_id,
            merchant_id: self.merchant_id,
            currency: self.currency,
            inputs: TransactionInputs {
                amount: self.amount,
                merchant_category: self.merchant_category,
                merchant_country,
                card_present,
                local_hour: self.local_hour,
            },
            shape: self.shape,
        })
    }
}

fn is_upper_code(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::parse;

    const VALID: &str = r#"{"user_id":"u1","amount":12.5,"merchant_category":"grocery","merchant_country":"DE","card_present":true,"local_hour":14}"#;
    const FRAUD_API: &str = r#"{"transaction_id":"txn_demo_001","user_id":12345,"amount":149.99,"payment_method":"card","merchant_id":"merchant_42"}"#;

    /// `body`, which must parse, validated with field names under `prefix`.
    fn validated<'a>(body: &'a str, prefix: &str) -> Result<ValidRequest<'a>, FieldError> {
        parse::<PredictRequest<'_>>(body.as_bytes())
            .unwrap()
            .validate(prefix)
    }

    #[test]
    fn the_transaction_shape_parses_and_validates() {
        let valid = validated(VALID, "").unwrap();
        assert_eq!(valid.shape, Shape::Transaction);
        assert_eq!(valid.inputs.merchant_country.unwrap().as_str(), "DE");
        assert!(!valid.needs_merchant());
    }

    #[test]
    fn the_fraud_api_shape_parses_with_its_own_fields() {
        let valid = validated(FRAUD_API, "").unwrap();
        assert_eq!(valid.shape, Shape::FraudApi);
        assert_eq!(&*valid.user_id, "12345");
        assert_eq!(valid.merchant_id.as_deref(), Some("merchant_42"));
        assert_eq!(valid.inputs.card_present, None, "`card` says nothing");
        assert!(valid.needs_merchant());
        let wallet = FRAUD_API.replace(r#""card""#, r#""Bank Transfer""#);
        assert_eq!(
            validated(&wallet, "").unwrap().inputs.card_present,
            Some(false)
        );
        let bad = FRAUD_API.replace(r#""card""#, r#""cheque""#);
        let error = validated(&bad, "").unwrap_err();
        assert_eq!(error.field, "payment_method");
        assert!(error.message.contains("bank_transfer"), "{}", error.message);
    }

    #[test]
    fn unknown_fields_are_refused_in_one_shape_and_ignored_in_the_other() {
        let body = VALID.replace("{", r#"{"card_number":"4111","#);
        let error = parse::<PredictRequest<'_>>(body.as_bytes()).unwrap_err();
        assert_eq!(error.field, "card_number");
        assert!(error.message.contains("unknown field"), "{}", error.message);
        let body = FRAUD_API.replace("{", r#"{"device":{"os":"ios"},"ip":"10.0.0.1","#);
        let request: PredictRequest<'_> = parse(body.as_bytes()).unwrap();
        assert_eq!(request.shape, Shape::FraudApi);
        // With none of the four transaction inputs, the body is a fraud-API one too.
        let minimal = r#"{"user_id":"u1","amount":3,"extra":1}"#;
        let request: PredictRequest<'_> = parse(minimal.as_bytes()).unwrap();
        assert_eq!(request.shape, Shape::FraudApi);
    }

    #[test]
    fn a_partial_transaction_shape_names_the_missing_input() {
        let body = VALID.replace(r#","local_hour":14"#, "");
        let error = parse::<PredictRequest<'_>>(body.as_bytes()).unwrap_err();
        assert_eq!(error.field, "local_hour");
        assert!(error.message.contains("missing field"), "{}", error.message);
    }

    #[test]
    fn strings_are_borrowed_from_the_body_unless_escaped() {
        let plain: PredictRequest<'_> = parse(VALID.as_bytes()).unwrap();
        assert!(matches!(plain.user_id.0, Cow::Borrowed("u1")));
        let body = VALID.replace(r#""u1""#, r#""u\u00e91""#);
        let escaped: PredictRequest<'_> = parse(body.as_bytes()).unwrap();
        assert_eq!(&*escaped.user_id, "u\u{e9}1");
        assert!(matches!(escaped.user_id.0, Cow::Owned(_)));
        for bad in ["-7", "1.5", "true", "null"] {
            let body = VALID.replace(r#""u1""#, bad);
            let error = parse::<PredictRequest<'_>>(body.as_bytes()).unwrap_err();
            assert_eq!(error.field, "user_id", "{bad}");
            assert!(
                error.message.contains("a string or a non-negative integer"),
                "{bad}: {}",
                error.message
            );
        }
    }

    #[test]
    fn country_codes_are_validated_and_upper_cased() {
        let body = VALID.replace(r#""DE""#, r#""de""#);
        let valid = validated(&body, "").unwrap();
        assert_eq!(valid.inputs.merchant_country.unwrap().as_str(), "DE");
        let body = VALID.replace(r#""DE""#, r#""DEU""#);
        let error = validated(&body, "transactions[1].").unwrap_err();
        assert_eq!(error.field, "transactions[1].merchant_country");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let body = VALID.replace("12.5", "\"12.5\"");
        let error = parse::<PredictRequest<'_>>(body.as_bytes()).unwrap_err();
        assert_eq!(error.field, "amount");
        assert!(error.message.contains("expected f64"), "{}", error.message);
    }

    #[test]
    fn nested_batch_path_is_named() {
        let body = format!(r#"{{"transactions":[{VALID},{{"user_id":"x"}}]}}"#);
        let error = parse::<BatchRequest<'_>>(body.as_bytes()).unwrap_err();
        assert_eq!(error.field, "transactions[1].amount");
        assert!(error.message.contains("missing field"), "{}", error.message);
        let body = format!(r#"{{"transactions":[{VALID},{VALID}]}}"#).replacen(
            r#""amount":12.5"#,
            r#""amount":1,"amount":2"#,
            2,
        );
        let error = parse::<BatchRequest<'_>>(body.as_bytes()).unwrap_err();
        assert_eq!(error.field, "transactions[0].amount");
        assert!(error.message.contains("duplicate"), "{}", error.message);
    }

    #[test]
    fn negative_amount_is_refused() {
        let body = VALID.replace("12.5", "-3");
        let error = validated(&body, "").unwrap_err();
        assert_eq!(error.field, "amount");
    }

    #[test]
    fn trailing_garbage_is_refused() {
        let body = format!("{VALID} x");
        assert_eq!(
            parse::<PredictRequest<'_>>(body.as_bytes())
                .unwrap_err()
                .field,
            "body"
        );
    }
}
