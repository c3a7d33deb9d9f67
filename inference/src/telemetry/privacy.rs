//! What may be said about a customer in logs and traces: user ids only as a keyed hash.

use sha2::{Digest, Sha256};

/// Domain separation so these hashes cannot be matched against plain SHA-256 tables.
const DOMAIN: &[u8] = b"tidewatch/user-id/v1\0";

/// A stable pseudonym for a user id: 16 hex digits of a salted SHA-256. The same id
/// always gives the same pseudonym, so logs can still be correlated per user.
pub fn pseudonymize(user_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(user_id.as_bytes())
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_not_the_input() {
        let a = pseudonymize("alice@example.com");
        assert_eq!(a, pseudonymize("alice@example.com"));
        assert_ne!(a, pseudonymize("bob@example.com"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("alice"));
    }
}
