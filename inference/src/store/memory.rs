//! In-memory feature store: the synthetic users and merchants, for running without
//! Redis, plus a small bounded overlay of users written at run time (the debug route).

use std::collections::HashMap;
use std::sync::RwLock;

use crate::features::synth;
use crate::features::{MerchantProfile, UserFeatures};

/// Most users the run-time overlay holds; past it writes are refused, so the debug route
/// cannot grow the process without bound.
pub const OVERLAY_CAPACITY: usize = 10_000;

/// Users and merchants held in hash maps, keyed by id.
#[derive(Debug, Default)]
pub struct MemoryStore {
    users: HashMap<String, UserFeatures>,
    merchants: HashMap<String, MerchantProfile>,
    /// Users written after start-up. Read only when `users` misses, so a lookup of a
    /// known user takes no lock.
    overlay: RwLock<HashMap<String, UserFeatures>>,
}

/// Why a user could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the in-memory store already holds {OVERLAY_CAPACITY} users written at run time")]
pub struct OverlayFull;

impl MemoryStore {
    /// The synthetic population `user-000000 .. user-{users-1}` and
    /// `merchant_0 .. merchant_{merchants-1}` of `seed`.
    pub fn synthetic(seed: u64, users: usize, merchants: usize) -> Self {
        let users = synth::users(seed, users)
            .into_iter()
            .enumerate()
            .map(|(i, user)| (synth::user_id(i), user))
            .collect();
        let merchants = synth::merchants(seed, merchants)
            .into_iter()
            .enumerate()
            .map(|(i, merchant)| (synth::merchant_id(i), merchant))
            .collect();
        Self {
            users,
            merchants,
            overlay: RwLock::default(),
        }
    }

    pub fn get(&self, user_id: &str) -> Option<UserFeatures> {
        if let Some(user) = self.users.get(user_id) {
            return Some(user.clone());
        }
        self.overlay
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(user_id)
            .cloned()
    }

    pub fn merchant(&self, merchant_id: &str) -> Option<MerchantProfile> {
        self.merchants.get(merchant_id).copied()
    }

    /// Writes a user unless the population already holds one by that id (then its
    /// profile is kept and returned). Refused once the overlay is full.
    pub fn put(&self, user_id: &str, user: UserFeatures) -> Result<UserFeatures, OverlayFull> {
        if let Some(existing) = self.users.get(user_id) {
            return Ok(existing.clone());
        }
        let mut overlay = self
            .overlay
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if overlay.len() >= OVERLAY_CAPACITY && !overlay.contains_key(user_id) {
            return Err(OverlayFull);
        }
        overlay.insert(user_id.to_owned(), user.clone());
        Ok(user)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_users_are_found_and_bounded() {
        let store = MemoryStore::synthetic(1, 3, 2);
        assert!(store.merchant("merchant_1").is_some());
        assert!(store.merchant("merchant_2").is_none());
        let known = store.get("user-000001").unwrap();
        let other = synth::user_for_id(9, "user-000001");
        assert_eq!(store.put("user-000001", other).unwrap(), known, "kept");
        assert!(store.get("new-user").is_none());
        let new = synth::user_for_id(9, "new-user");
        store.put("new-user", new.clone()).unwrap();
        assert_eq!(store.get("new-user"), Some(new.clone()));
        for i in 0..OVERLAY_CAPACITY {
            let _ = store.put(&format!("flood-{i}"), new.clone());
        }
        assert_eq!(store.put("one-too-many", new.clone()), Err(OverlayFull));
        assert!(store.put("new-user", new).is_ok(), "rewriting is no growth");
    }
}
