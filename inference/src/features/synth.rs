//! Seeded synthetic users and labelled transactions with known fraud patterns.
//!
//! The same seed always gives the same data, so training, the feature-store loader and
//! the tests agree on who `user-000042` is. No I/O here.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::features::{CountryCode, MerchantCategory, MerchantProfile, Transaction, UserFeatures};

const COUNTRIES: [(CountryCode, f64); 8] = [
    (CountryCode::from_static(b"US"), 0.45),
    (CountryCode::from_static(b"GB"), 0.12),
    (CountryCode::from_static(b"DE"), 0.1),
    (CountryCode::from_static(b"FR"), 0.09),
    (CountryCode::from_static(b"BR"), 0.08),
    (CountryCode::from_static(b"IN"), 0.08),
    (CountryCode::from_static(b"JP"), 0.05),
    (CountryCode::from_static(b"NG"), 0.03),
];

/// The key a user is known by in the feature store.
pub fn user_id(index: usize) -> String {
    format!("user-{index:06}")
}

/// The key a merchant is known by in the feature store.
pub fn merchant_id(index: usize) -> String {
    format!("merchant_{index}")
}

/// Generates `count` merchants; merchant `i` is [`merchant_id`]`(i)`. Merchants trade
/// mostly where the users live, in every category.
pub fn merchants(seed: u64, count: usize) -> Vec<MerchantProfile> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x3e7c_4a17);
    (0..count)
        .map(|_| MerchantProfile {
            merchant_category: MerchantCategory::ALL
                [rng.random_range(0..MerchantCategory::ALL.len())],
            merchant_country: pick_country(&mut rng),
        })
        .collect()
}

/// A synthetic profile for any user id, the same for the same id and seed: what the
/// debug route writes into the store for a user the population does not hold.
pub fn user_for_id(seed: u64, user_id: &str) -> UserFeatures {
    // FNV-1a: stable across builds and platforms, unlike the standard hasher.
    let hash = user_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    user(&mut StdRng::seed_from_u64(seed ^ hash))
}

/// A labelled example.
#[derive(Debug, Clone)]
pub struct Example {
    /// Index of the user, so that [`user_id`] names them.
    pub user_index: usize,
    pub user: UserFeatures,
    pub transaction: Transaction,
    pub is_fraud: bool,
}

/// Generates `count` users; user `i` is [`user_id`]`(i)`.
pub fn users(seed: u64, count: usize) -> Vec<UserFeatures> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).map(|_| user(&mut rng)).collect()
}

/// Generates `count` labelled transactions drawn over `users`.
pub fn examples(seed: u64, users: &[UserFeatures], count: usize) -> Vec<Example> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_f00d);
    (0..count)
        .map(|_| {
            let user_index = rng.random_range(0..users.len());
            let user = users[user_index].clone();
            let transaction = transaction(&mut rng, &user);
            let is_fraud = rng.random::<f64>() < fraud_probability(&user, &transaction);
            Example {
                user_index,
                user,
                transaction,
                is_fraud,
            }
        })
        .collect()
}

/// The ground-truth fraud probability: the patterns the model has to discover.
pub fn fraud_probability(user: &UserFeatures, txn: &Transaction) -> f64 {
    let ratio = (txn.amount / user.avg_amount_30d.max(1.0)).ln().max(0.0);
    let mut logit = -6.0;
    logit += 1.4 * ratio;
    logit += 0.22 * user.txn_count_24h;
    logit += if user.account_age_days < 30.0 {
        1.5
    } else {
        0.0
    };
    logit += if txn.merchant_country != user.home_country {
        1.4
    } else {
        0.0
    };
    logit += 0.9 * user.chargebacks_90d;
    logit += if txn.local_hour < 6 { 1.0 } else { 0.0 };
    logit += if txn.card_present { 0.0 } else { 0.9 };
    logit += if txn.merchant_category.is_high_risk() {
        1.1
    } else {
        0.0
    };
    1.0 / (1.0 + (-logit).exp())
}

fn user(rng: &mut StdRng) -> UserFeatures {
    let avg_amount_30d = (60f64.ln() + 0.8 * normal(rng)).exp().clamp(2.0, 5_000.0);
    let account_age_days = if rng.random::<f64>() < 0.08 {
        rng.random_range(0.0..30.0f64).floor()
    } else {
        rng.random_range(30.0..3_650.0f64).floor()
    };
    let chargebacks_90d = match rng.random::<f64>() {
        p if p < 0.9 => 0.0,
        p if p < 0.97 => 1.0,
        _ => rng.random_range(2..5) as f64,
    };
    UserFeatures {
        avg_amount_30d: round2(avg_amount_30d),
        txn_count_24h: (rng.random::<f64>().powi(2) * 12.0).floor(),
        account_age_days,
        chargebacks_90d,
        home_country: pick_country(rng),
    }
}

fn transaction(rng: &mut StdRng, user: &UserFeatures) -> Transaction {
    let amount = (user.avg_amount_30d * (0.7 * normal(rng)).exp()).clamp(0.5, 50_000.0);
    let merchant_country = if rng.random::<f64>() < 0.88 {
        user.home_country
    } else {
        pick_country(rng)
    };
    let local_hour = if rng.random::<f64>() < 0.12 {
        rng.random_range(0..6)
    } else {
        rng.random_range(6..24)
    };
    Transaction {
        amount: round2(amount),
        merchant_category: MerchantCategory::ALL[rng.random_range(0..MerchantCategory::ALL.len())],
        merchant_country,
        card_present: rng.random::<f64>() < 0.6,
        local_hour,
    }
}

fn pick_country(rng: &mut StdRng) -> CountryCode {
    let mut p = rng.random::<f64>();
    for (code, weight) in COUNTRIES {
        if p < weight {
            return code;
        }
        p -= weight;
    }
    COUNTRIES[0].0
}

/// Standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data() {
        let a = users(7, 50);
        let b = users(7, 50);
        assert_eq!(a, b);
        assert_ne!(a, users(8, 50));
    }

    #[test]
    fn profiles_for_ids_and_merchants_are_reproducible() {
        assert_eq!(user_for_id(42, "u-1"), user_for_id(42, "u-1"));
        assert_ne!(user_for_id(42, "u-1"), user_for_id(42, "u-2"));
        assert_eq!(merchants(3, 20), merchants(3, 20));
        assert_eq!(merchant_id(42), "merchant_42");
    }

    #[test]
    fn fraud_is_rare_but_present() {
        let pool = users(1, 500);
        let data = examples(1, &pool, 20_000);
        let rate = data.iter().filter(|e| e.is_fraud).count() as f64 / data.len() as f64;
        assert!((0.01..0.15).contains(&rate), "fraud rate {rate}");
    }
}
