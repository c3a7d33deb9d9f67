//! In-memory feature store: the synthetic user population, for running without Redis.

use std::collections::HashMap;

use crate::features::UserFeatures;
use crate::features::synth;

/// Users held in a hash map, keyed by user id.
#[derive(Debug, Default)]
pub struct MemoryStore {
    users: HashMap<String, UserFeatures>,
}

impl MemoryStore {
    /// The synthetic population `user-000000 .. user-{count-1}` of `seed`.
    pub fn synthetic(seed: u64, count: usize) -> Self {
        let users = synth::users(seed, count)
            .into_iter()
            .enumerate()
            .map(|(i, user)| (synth::user_id(i), user))
            .collect();
        Self { users }
    }

    pub fn get(&self, user_id: &str) -> Option<UserFeatures> {
        self.users.get(user_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}
