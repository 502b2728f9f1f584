//! The output cache in the state directory's redb database.
//!
//! An entry is a small header followed by the output bytes:
//! `b"WFO1"`, the creation time (u64 milliseconds since the Unix epoch, little
//! endian), the output's blake3 hash (32 bytes), then the output. The hash
//! lets a read detect a corrupt entry, which is deleted and treated as a miss.

use std::time::Duration;

use anyhow::{Context as _, Result};
use redb::{ReadableTable, TableDefinition};

use crate::state::StateDatabase;

use super::{CacheKey, OutputCache};
use crate::runtime::now_ms;

const OUTPUTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("outputs");

const MAGIC: &[u8; 4] = b"WFO1";
const HEADER_LEN: usize = 4 + 8 + 32;

pub struct RedbOutputCache {
    database: StateDatabase,
}

impl RedbOutputCache {
    pub fn new(database: StateDatabase) -> Self {
        RedbOutputCache { database }
    }

    fn read(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        // Not waiting for queued writes: an entry still queued is a miss,
        // which only runs the task again.
        let transaction = self.database.begin_read_committed()?;
        let table = match transaction.open_table(OUTPUTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        Ok(table.get(key.as_bytes())?.map(|value| value.value().to_vec()))
    }

    fn remove(&self, key: &CacheKey) -> Result<()> {
        let key = *key.as_bytes();
        self.database.submit("remove a corrupt output cache entry", move |transaction| {
            transaction.open_table(OUTPUTS)?.remove(&key)?;
            Ok(())
        });
        Ok(())
    }
}

impl OutputCache for RedbOutputCache {
    fn get(&self, key: &CacheKey, ttl: Option<Duration>) -> Result<Option<Vec<u8>>> {
        let Some(entry) = self.read(key).context("failed to read the output cache")? else {
            return Ok(None);
        };
        let Some((created_ms, output)) = decode(&entry) else {
            tracing::warn!(key = %key, "corrupt output cache entry; removing it and running the task");
            self.remove(key).context("failed to remove a corrupt output cache entry")?;
            return Ok(None);
        };
        if let Some(ttl) = ttl {
            let age_ms = now_ms().saturating_sub(created_ms);
            if u128::from(age_ms) > ttl.as_millis() {
                tracing::debug!(key = %key, age_ms, "output cache entry expired");
                return Ok(None);
            }
        }
        Ok(Some(output.to_vec()))
    }

    fn put(&self, key: &CacheKey, output: &[u8]) -> Result<()> {
        let entry = encode(now_ms(), output);
        let key = *key.as_bytes();
        // A cache entry lost in a crash only means the task runs again.
        self.database.submit("store a task output in the cache", move |transaction| {
            transaction.open_table(OUTPUTS)?.insert(&key, entry.as_slice())?;
            Ok(())
        });
        Ok(())
    }
}

fn encode(created_ms: u64, output: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(HEADER_LEN + output.len());
    entry.extend_from_slice(MAGIC);
    entry.extend_from_slice(&created_ms.to_le_bytes());
    entry.extend_from_slice(blake3::hash(output).as_bytes());
    entry.extend_from_slice(output);
    entry
}

/// Returns the creation time and the output, or `None` for a corrupt entry.
fn decode(entry: &[u8]) -> Option<(u64, &[u8])> {
    if entry.len() < HEADER_LEN || &entry[..4] != MAGIC {
        return None;
    }
    let created_ms = u64::from_le_bytes(entry[4..12].try_into().ok()?);
    let hash = &entry[12..HEADER_LEN];
    let output = &entry[HEADER_LEN..];
    (blake3::hash(output).as_bytes() == hash).then_some((created_ms, output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips() {
        let entry = encode(42, b"output");
        assert_eq!(decode(&entry), Some((42, &b"output"[..])));
    }

    #[test]
    fn corrupt_entry_is_rejected() {
        let mut entry = encode(42, b"output");
        let last = entry.len() - 1;
        entry[last] ^= 1;
        assert_eq!(decode(&entry), None);
        assert_eq!(decode(b"WFO1"), None);
        assert_eq!(decode(b""), None);
    }
}
