//! What may be said about a customer in logs and traces: user ids only as a keyed
//! pseudonym. Holds the key and never prints it.
//!
//! A pseudonym is an HMAC-SHA256 of the user id under a secret key. An unkeyed hash would
//! not do: user ids are guessable (sequential ids, emails), so anyone reading the logs
//! could hash candidates and confirm who a line is about. Without the key nobody can
//! compute or check a pseudonym; with it, the same id always gives the same pseudonym, so
//! one user's lines can still be followed.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{RngCore, TryRngCore};
use sha2::Sha256;

use crate::secret::Secret;

/// Domain separation, so a key shared with another use cannot yield these values.
const DOMAIN: &[u8] = b"tidewatch/user-id/v2\0";

/// Shortest key accepted: 128 bits cannot be guessed.
pub const MIN_KEY_BYTES: usize = 16;

/// A configured key too short to keep pseudonyms from being guessed.
#[derive(Debug, thiserror::Error)]
#[error("the pseudonym key must be at least {MIN_KEY_BYTES} bytes, got {0}")]
pub struct KeyTooShort(usize);

/// Turns user ids into pseudonyms under one key.
#[derive(Clone)]
pub struct Pseudonymizer {
    /// The HMAC already keyed; cloned for each pseudonym.
    mac: Hmac<Sha256>,
}

impl Pseudonymizer {
    /// Pseudonyms under a configured key: the same on every replica and restart that is
    /// given it.
    pub fn keyed(key: &Secret) -> Result<Self, KeyTooShort> {
        let key = key.expose().as_bytes();
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyTooShort(key.len()));
        }
        Ok(Self::from_key(key))
    }

    /// Pseudonyms under a random key drawn now: they correlate lines of this process
    /// only, and nobody, the operator included, can recompute them later.
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        OsRng.unwrap_err().fill_bytes(&mut key);
        Self::from_key(&key)
    }

    fn from_key(key: &[u8]) -> Self {
        Self {
            mac: Hmac::new_from_slice(key).expect("HMAC takes keys of any length"),
        }
    }

    /// 16 hex digits (64 bits) of the HMAC of `user_id`.
    pub fn pseudonym(&self, user_id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(user_id.as_bytes());
        let tag = mac.finalize().into_bytes();
        tag[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef";

    fn keyed(key: &str) -> Pseudonymizer {
        Pseudonymizer::keyed(&Secret::new(key)).unwrap()
    }

    #[test]
    fn stable_per_key_and_not_the_input() {
        let a = keyed(KEY).pseudonym("alice@example.com");
        assert_eq!(a, keyed(KEY).pseudonym("alice@example.com"));
        assert_ne!(a, keyed(KEY).pseudonym("bob@example.com"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("alice"));
    }

    /// Pins the construction: changing it would change every pseudonym in a rollout.
    /// The value is HMAC-SHA256(key, DOMAIN || id), as any HMAC implementation gives it.
    #[test]
    fn pseudonyms_are_the_hmac_of_the_domain_and_the_id() {
        assert_eq!(
            keyed(KEY).pseudonym("alice@example.com"),
            "7a6aba08b0730bb2"
        );
    }

    #[test]
    fn another_key_gives_other_pseudonyms() {
        let id = "user-000042";
        let configured = keyed(KEY).pseudonym(id);
        assert_ne!(configured, keyed("fedcba9876543210").pseudonym(id));
        assert_ne!(configured, Pseudonymizer::ephemeral().pseudonym(id));
        assert_ne!(
            Pseudonymizer::ephemeral().pseudonym(id),
            Pseudonymizer::ephemeral().pseudonym(id)
        );
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        let error = Pseudonymizer::keyed(&Secret::new("short")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the pseudonym key must be at least 16 bytes, got 5"
        );
        let printed = format!("{:?} {:#?}", keyed(KEY), keyed(KEY));
        assert!(!printed.contains(KEY), "{printed}");
    }
}
