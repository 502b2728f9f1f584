//! The output cache: completed task outputs stored under a hash of
//! everything that can change them, so that a later run reuses them without
//! starting the component.
//!
//! [`CacheKey`] defines what goes into the hash; [`OutputCache`] is where
//! entries live. The embedded default is [`RedbOutputCache`].

mod key;
mod redb_cache;

use std::time::Duration;

use anyhow::Result;

pub use key::CacheKey;
pub use redb_cache::RedbOutputCache;

/// Storage of task outputs.
///
/// TODO: nothing removes expired entries or compiled artifacts of old
/// components yet; a `gc` command or a size cap belongs here.
pub trait OutputCache: Send + Sync {
    /// Returns the output stored under `key`, unless it is missing, older than `ttl`
    /// or unreadable. A corrupt entry is removed and reported as missing.
    fn get(&self, key: &CacheKey, ttl: Option<Duration>) -> Result<Option<Vec<u8>>>;

    /// Stores `output` under `key`, replacing any earlier entry.
    fn put(&self, key: &CacheKey, output: &[u8]) -> Result<()>;
}
