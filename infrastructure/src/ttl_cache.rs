//! A small in-process cache whose entries expire, for facts that are read on every request and
//! change rarely (API keys, tenant settings). Changes made through this process evict at once;
//! other instances see them within the time to live.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Entries of `V` by `K`, each trusted for `ttl` after it was stored.
#[derive(Debug, Clone)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<K, (V, Instant)>>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    /// The live value for `key`, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(_, stored)| stored.elapsed() < self.ttl)
            .map(|(value, _)| value.clone())
    }

    /// Stores `value` for `key`.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= 10_000 {
            entries.retain(|_, (_, stored)| stored.elapsed() < self.ttl);
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Forgets every entry whose value matches `stale`.
    pub fn evict_where(&self, stale: impl Fn(&V) -> bool) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (value, _)| !stale(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_evicted() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.insert(1, "a");
        cache.insert(2, "b");
        assert_eq!(cache.get(&1), Some("a"));
        cache.evict_where(|v| *v == "a");
        assert_eq!(cache.get(&1), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&2), None);
    }
}
