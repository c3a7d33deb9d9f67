//! Redis feature store through fred: one hash per user and one per merchant. Only talks to Redis; timeouts,
//! the circuit breaker and defaults are the caller's job ([`super::FeatureStore`]).

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike, Config, HashesInterface, ReconnectPolicy};

use crate::features::{CountryCode, MerchantCategory, MerchantProfile, UserFeatures};
use crate::secret::{ConnectionUrl, Secret};

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: ConnectionUrl,
    /// Overrides any password in the URL.
    pub password: Option<Secret>,
    pub key_prefix: String,
    /// Prefix of the per-merchant hash keys.
    pub merchant_key_prefix: String,
    /// Upper bound of one lookup; also fred's own command timeout.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    #[error("invalid Redis configuration: {0}")]
    Config(String),
    #[error("Redis command failed: {0}")]
    Command(String),
    #[error("stored features of a user are malformed: field {0}")]
    Malformed(&'static str),
}

impl From<fred::error::Error> for RedisStoreError {
    fn from(error: fred::error::Error) -> Self {
        // fred's message never contains the password; the URL is not part of it either.
        Self::Command(format!("{:?}: {}", error.kind(), error.details()))
    }
}

/// A connected (or reconnecting) Redis client.
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    key_prefix: String,
    merchant_key_prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Builds the client and starts connecting in the background; never waits for Redis,
    /// so the server starts (and serves with defaults) while Redis is down.
    pub fn start(settings: &RedisSettings) -> Result<Self, RedisStoreError> {
        let client = Self::build(settings)?;
        client.connect();
        Ok(Self {
            client,
            key_prefix: settings.key_prefix.clone(),
            merchant_key_prefix: settings.merchant_key_prefix.clone(),
        })
    }

    /// Builds the client and waits for the first connection (for the loader command).
    pub async fn connect(settings: &RedisSettings) -> Result<Self, RedisStoreError> {
        let client = Self::build(settings)?;
        client.init().await?;
        Ok(Self {
            client,
            key_prefix: settings.key_prefix.clone(),
            merchant_key_prefix: settings.merchant_key_prefix.clone(),
        })
    }

    fn build(settings: &RedisSettings) -> Result<Client, RedisStoreError> {
        let mut config = Config::from_url(settings.url.expose())
            .map_err(|e| RedisStoreError::Config(e.details().to_string()))?;
        if let Some(password) = &settings.password {
            config.password = Some(password.expose().to_string());
        }
        // Keep retrying the first connection instead of failing start-up.
        config.fail_fast = false;
        let timeout = settings.timeout;
        Builder::from_config(config)
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(1);
                c.internal_command_timeout = Duration::from_secs(1);
                c.max_command_attempts = 1;
                // Bounded buffer while disconnected: lookups time out rather than pile up.
                c.max_command_buffer_len = 1_000;
            })
            .set_policy(ReconnectPolicy::new_constant(0, 250))
            .build()
            .map_err(|e| RedisStoreError::Config(e.details().to_string()))
    }

    /// Waits until the first connection is up, for at most `limit`; false if not.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.client.wait_for_connect()).await,
            Ok(Ok(()))
        )
    }

    fn key(&self, user_id: &str) -> String {
        format!("{}{user_id}", self.key_prefix)
    }

    /// The user's features, or `None` when the user is unknown.
    pub async fn get(&self, user_id: &str) -> Result<Option<UserFeatures>, RedisStoreError> {
        let fields: HashMap<String, String> = self.client.hgetall(self.key(user_id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(&fields).map(Some)
    }

    /// The merchant's profile, or `None` when the merchant is unknown.
    pub async fn get_merchant(
        &self,
        merchant_id: &str,
    ) -> Result<Option<MerchantProfile>, RedisStoreError> {
        let key = format!("{}{merchant_id}", self.merchant_key_prefix);
        let fields: HashMap<String, String> = self.client.hgetall(key).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode_merchant(&fields).map(Some)
    }

    /// Writes one user's hash.
    pub async fn put(&self, user_id: &str, user: &UserFeatures) -> Result<(), RedisStoreError> {
        let _: i64 = self.client.hset(self.key(user_id), encode(user)).await?;
        Ok(())
    }

    /// Writes merchants as `{merchant prefix}{id}` hashes, pipelined in chunks.
    pub async fn put_merchants(
        &self,
        merchants: impl IntoIterator<Item = (String, MerchantProfile)>,
    ) -> Result<usize, RedisStoreError> {
        let hashes = merchants.into_iter().map(|(id, merchant)| {
            (
                format!("{}{id}", self.merchant_key_prefix),
                encode_merchant(&merchant),
            )
        });
        self.put_hashes(hashes).await
    }

    /// Writes users as `{prefix}{id}` hashes, pipelined in chunks.
    pub async fn put_all(
        &self,
        users: impl IntoIterator<Item = (String, UserFeatures)>,
    ) -> Result<usize, RedisStoreError> {
        let hashes = users
            .into_iter()
            .map(|(id, user)| (self.key(&id), encode(&user)));
        self.put_hashes(hashes).await
    }

    /// Writes `(key, fields)` hashes, 500 to a pipeline.
    async fn put_hashes(
        &self,
        hashes: impl IntoIterator<Item = (String, Vec<(&'static str, String)>)>,
    ) -> Result<usize, RedisStoreError> {
        let mut written = 0;
        let hashes: Vec<_> = hashes.into_iter().collect();
        for chunk in hashes.chunks(500) {
            let pipeline = self.client.pipeline();
            for (key, fields) in chunk {
                let _: () = pipeline.hset(key.as_str(), fields.clone()).await?;
            }
            let _: Vec<i64> = pipeline.all().await?;
            written += chunk.len();
        }
        Ok(written)
    }

    pub async fn quit(&self) {
        let _ = self.client.quit().await;
    }
}

fn encode(user: &UserFeatures) -> Vec<(&'static str, String)> {
    vec![
        ("avg_amount_30d", user.avg_amount_30d.to_string()),
        ("txn_count_24h", user.txn_count_24h.to_string()),
        ("account_age_days", user.account_age_days.to_string()),
        ("chargebacks_90d", user.chargebacks_90d.to_string()),
        ("home_country", user.home_country.to_string()),
    ]
}

fn encode_merchant(merchant: &MerchantProfile) -> Vec<(&'static str, String)> {
    vec![
        ("category", merchant.merchant_category.as_str().to_string()),
        ("country", merchant.merchant_country.to_string()),
    ]
}

fn decode_merchant(fields: &HashMap<String, String>) -> Result<MerchantProfile, RedisStoreError> {
    Ok(MerchantProfile {
        merchant_category: fields
            .get("category")
            .and_then(|name| MerchantCategory::parse(name))
            .ok_or(RedisStoreError::Malformed("category"))?,
        merchant_country: fields
            .get("country")
            .and_then(|code| CountryCode::parse(code))
            .ok_or(RedisStoreError::Malformed("country"))?,
    })
}

fn decode(fields: &HashMap<String, String>) -> Result<UserFeatures, RedisStoreError> {
    let number = |name: &'static str| {
        fields
            .get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or(RedisStoreError::Malformed(name))
    };
    Ok(UserFeatures {
        avg_amount_30d: number("avg_amount_30d")?,
        txn_count_24h: number("txn_count_24h")?,
        account_age_days: number("account_age_days")?,
        chargebacks_90d: number("chargebacks_90d")?,
        home_country: fields
            .get("home_country")
            .and_then(|code| CountryCode::parse(code))
            .ok_or(RedisStoreError::Malformed("home_country"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let user = UserFeatures {
            avg_amount_30d: 12.5,
            txn_count_24h: 3.0,
            account_age_days: 90.0,
            chargebacks_90d: 1.0,
            home_country: CountryCode::from_static(b"DE"),
        };
        let fields: HashMap<String, String> = encode(&user)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(decode(&fields).unwrap(), user);
    }

    #[test]
    fn a_home_country_that_is_not_two_letters_is_malformed() {
        let fields = |code: &str| {
            HashMap::from([
                ("avg_amount_30d".to_string(), "12.5".to_string()),
                ("txn_count_24h".to_string(), "3".to_string()),
                ("account_age_days".to_string(), "90".to_string()),
                ("chargebacks_90d".to_string(), "0".to_string()),
                ("home_country".to_string(), code.to_string()),
            ])
        };
        assert_eq!(
            decode(&fields("de")).unwrap().home_country,
            CountryCode::from_static(b"DE")
        );
        for bad in ["DEU", "", "1A"] {
            assert!(
                matches!(
                    decode(&fields(bad)),
                    Err(RedisStoreError::Malformed("home_country"))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn merchant_round_trip_and_malformed_category() {
        let merchant = MerchantProfile {
            merchant_category: MerchantCategory::GiftCards,
            merchant_country: CountryCode::from_static(b"BR"),
        };
        let mut fields: HashMap<String, String> = encode_merchant(&merchant)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(decode_merchant(&fields).unwrap(), merchant);
        fields.insert("category".into(), "casino".into());
        assert!(matches!(
            decode_merchant(&fields),
            Err(RedisStoreError::Malformed("category"))
        ));
    }

    #[test]
    fn malformed_field_is_named() {
        let fields = HashMap::from([("avg_amount_30d".to_string(), "NaN".to_string())]);
        assert!(matches!(
            decode(&fields),
            Err(RedisStoreError::Malformed("avg_amount_30d"))
        ));
    }
}
