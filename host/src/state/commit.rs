//! Group commit: every write to the state database is committed at once,
//! and task records and cache entries are made durable (written through to
//! the disk with fsync) together, about once per [`DURABLE_WINDOW`].
//!
//! An fsync took about a millisecond on the 2-core machine where the
//! benchmarks ran, more than running a small task, so
//! one per task record or cache entry would dominate a run of many small
//! tasks. A write that is not durable is visible to readers at once; the
//! next durable commit, or the background flush that follows within the
//! window, writes it to the disk. A host killed in between loses at most the
//! writes of the last window: a few task records, which the run's crashed
//! state already accounts for, and cache entries, whose tasks run again.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use redb::{Database, Durability, WriteTransaction};

/// The time after which a background flush makes pending writes durable.
pub const DURABLE_WINDOW: Duration = Duration::from_millis(100);

/// The state database with its group commit. Clones share the database;
/// dropping the last one makes pending writes durable.
#[derive(Clone)]
pub struct StateDatabase {
    guard: Arc<Guard>,
}

/// Owns the database; its drop is the last handle's.
struct Guard {
    database: Arc<Database>,
    shared: Arc<Shared>,
}

/// The flush state that the flusher thread shares with the handles. It holds no strong
/// reference to the database, so that the database closes when the last
/// handle is dropped.
struct Shared {
    flush: Mutex<FlushState>,
    wake: Condvar,
}

struct FlushState {
    /// When the last durable commit ended.
    last_durable: Instant,
    /// Whether a commit since then is not durable yet.
    pending: bool,
    /// Set when the last handle is dropped, so that the flusher ends.
    closed: bool,
}

/// The durability a write asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Durable before `commit` returns: the start and end of a run.
    Now,
    /// Durable within [`DURABLE_WINDOW`]: task records and cache entries.
    Soon,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, FlushState> {
        self.flush.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl StateDatabase {
    /// Wraps `database` and starts the thread that makes pending writes
    /// durable.
    pub fn new(database: Database) -> Self {
        let shared = Arc::new(Shared {
            flush: Mutex::new(FlushState { last_durable: Instant::now(), pending: false, closed: false }),
            wake: Condvar::new(),
        });
        let database = Arc::new(database);
        let (weak, flusher_shared) = (Arc::downgrade(&database), shared.clone());
        std::thread::Builder::new()
            .name("wflow-state-flush".to_string())
            .spawn(move || flush_loop(&weak, &flusher_shared))
            .expect("the operating system starts a thread");
        StateDatabase { guard: Arc::new(Guard { database, shared }) }
    }

    /// Returns the redb database, for reads.
    pub fn database(&self) -> &Database {
        &self.guard.database
    }

    /// Begins a write transaction, to commit with [`StateDatabase::commit`].
    pub fn begin_write(&self) -> Result<WriteTransaction> {
        Ok(self.guard.database.begin_write()?)
    }

    /// Commits `transaction`, durably now or within the window, following
    /// `commit`. A `Soon` write is made durable at once when the window since
    /// the last durable commit has passed.
    pub fn commit(&self, mut transaction: WriteTransaction, commit: Commit) -> Result<()> {
        let shared = &self.guard.shared;
        let durable = commit == Commit::Now || shared.lock().last_durable.elapsed() >= DURABLE_WINDOW;
        let durability = if durable { Durability::Immediate } else { Durability::None };
        transaction.set_durability(durability).context("failed to set the commit's durability")?;
        transaction.commit()?;
        let mut state = shared.lock();
        if durable {
            state.last_durable = Instant::now();
            state.pending = false;
        } else if !state.pending {
            state.pending = true;
            shared.wake.notify_one();
        }
        Ok(())
    }

    /// Makes every commit so far durable.
    pub fn flush(&self) -> Result<()> {
        if self.guard.shared.lock().pending {
            flush_now(&self.guard.database, &self.guard.shared)?;
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.shared.lock().pending
            && let Err(error) = flush_now(&self.database, &self.shared)
        {
            tracing::warn!(error = %format!("{error:#}"), "failed to make the last state writes durable");
        }
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// Commits an empty durable transaction, which makes the earlier ones
/// durable too.
fn flush_now(database: &Database, shared: &Shared) -> Result<()> {
    let mut transaction = database.begin_write()?;
    transaction.set_durability(Durability::Immediate).context("failed to set the commit's durability")?;
    transaction.commit().context("failed to make the state writes durable")?;
    let mut state = shared.lock();
    state.last_durable = Instant::now();
    state.pending = false;
    Ok(())
}

/// Waits for pending writes and makes them durable once their window ends.
fn flush_loop(database: &Weak<Database>, shared: &Shared) {
    loop {
        let due = {
            let mut state = shared.lock();
            while !state.pending && !state.closed {
                state = shared.wake.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.closed {
                return;
            }
            state.last_durable + DURABLE_WINDOW
        };
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let Some(database) = database.upgrade() else { return };
        if shared.lock().pending
            && let Err(error) = flush_now(&database, shared)
        {
            tracing::warn!(error = %format!("{error:#}"), "failed to make state writes durable; retrying");
            std::thread::sleep(DURABLE_WINDOW);
        }
    }
}

#[cfg(test)]
mod tests {
    use redb::{ReadableDatabase, ReadableTable};

    use super::*;

    const TABLE: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("test");

    fn write(database: &StateDatabase, value: u64, commit: Commit) {
        let transaction = database.begin_write().unwrap();
        transaction.open_table(TABLE).unwrap().insert("key", value).unwrap();
        database.commit(transaction, commit).unwrap();
    }

    fn open(path: &std::path::Path) -> StateDatabase {
        StateDatabase::new(redb::Database::create(path).unwrap())
    }

    #[test]
    fn later_commit_is_flushed_within_the_window() {
        let folder = tempfile::tempdir().unwrap();
        let database = open(&folder.path().join("state.redb"));
        write(&database, 1, Commit::Now);
        write(&database, 2, Commit::Soon);
        assert!(database.guard.shared.lock().pending, "a commit right after a durable one waits");

        std::thread::sleep(DURABLE_WINDOW * 3);

        assert!(!database.guard.shared.lock().pending, "the flusher made it durable");
    }

    #[test]
    fn dropping_the_last_handle_closes_the_database() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("state.redb");
        let database = open(&path);
        let clone = database.clone();
        write(&database, 1, Commit::Now);
        write(&clone, 7, Commit::Soon);
        drop(database);
        drop(clone);

        let reopened = open(&path);

        let read = reopened.database().begin_read().unwrap();
        assert_eq!(read.open_table(TABLE).unwrap().get("key").unwrap().unwrap().value(), 7);
    }
}
