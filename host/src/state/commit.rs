//! Group commit: task records and cache entries are written by one
//! background thread, many to a redb transaction, and made durable (written
//! through to the disk with fsync) together, about once per
//! [`DURABLE_WINDOW`].
//!
//! On the 2-core machine where the benchmarks ran, an fsync took about a
//! millisecond, and even a commit that is not durable took tens of
//! microseconds: both more than running a small task. So a task's records
//! are queued ([`StateDatabase::submit`]) and the caller goes on. The writer
//! lets writes gather for up to [`BATCH_WINDOW`] before it commits them, so a
//! chain of small tasks costs one commit per window, not one per task. Reads
//! wait for the queue to be written first, and the writer commits at once
//! for them, so that a process always reads what it wrote. A host killed before the next durable commit loses at most the
//! writes of the last window: a few task records, which the run's crashed
//! state already accounts for, and cache entries, whose tasks run again.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use redb::{Database, Durability, ReadTransaction, WriteTransaction};

/// The time after which queued writes are made durable.
pub const DURABLE_WINDOW: Duration = Duration::from_millis(100);

/// The maximum time a queued write waits for others to join its
/// transaction, unless a reader waits for it.
const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// The number of queued writes at which the writer commits without waiting
/// for the rest of the window.
const BATCH_MAX: usize = 1024;

/// A queued write: what it is, for error messages, and the change itself,
/// applied inside the writer's transaction.
type Write = (&'static str, Box<dyn FnOnce(&WriteTransaction) -> Result<()> + Send>);

/// The state database with its writer thread. Clones share both; dropping
/// the last one writes what is queued, makes it durable and stops the
/// thread.
#[derive(Clone)]
pub struct StateDatabase {
    guard: Arc<Guard>,
}

/// Owns the writer thread; its drop is the last handle's.
struct Guard {
    database: Arc<Database>,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// The queue and flush state that the writer shares with the handles.
struct Shared {
    state: Mutex<QueueState>,
    /// Wakes the writer: a write was queued or the database is closing.
    work: Condvar,
    /// Wakes readers waiting for the queue to be written.
    written: Condvar,
}

struct QueueState {
    queue: Vec<Write>,
    /// When the oldest write in `queue` was queued.
    first_queued: Instant,
    /// Readers waiting in [`StateDatabase::sync`]: while there are any, the
    /// writer commits without waiting for the batch window.
    readers_waiting: usize,
    /// Writes queued since the database opened.
    submitted: u64,
    /// Writes committed since the database opened.
    applied: u64,
    /// Transactions the writer thread committed since the database opened.
    batches: u64,
    /// When the last durable commit ended.
    last_durable: Instant,
    /// Whether a commit since then is not durable yet.
    pending: bool,
    /// Set when the last handle is dropped.
    closed: bool,
    /// Set when the writer thread has ended, normally or by a panic, so
    /// that readers stop waiting for it.
    writer_gone: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl StateDatabase {
    /// Wraps `database` and starts its writer thread.
    pub fn new(database: Database) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(QueueState {
                queue: Vec::new(),
                first_queued: Instant::now(),
                readers_waiting: 0,
                submitted: 0,
                applied: 0,
                batches: 0,
                last_durable: Instant::now(),
                pending: false,
                closed: false,
                writer_gone: false,
            }),
            work: Condvar::new(),
            written: Condvar::new(),
        });
        let database = Arc::new(database);
        let (writer_database, writer_shared) = (database.clone(), shared.clone());
        let writer = std::thread::Builder::new()
            .name("wflow-state-writer".to_string())
            .spawn(move || {
                let _ended_guard = WriterGone(&writer_shared);
                write_loop(&writer_database, &writer_shared);
            })
            .expect("the operating system starts a thread");
        StateDatabase { guard: Arc::new(Guard { database, shared, writer: Mutex::new(Some(writer)) }) }
    }

    /// Queues `write`, which the writer thread applies in its next
    /// transaction; `what` names it in the warning logged if it fails.
    pub fn submit(&self, what: &'static str, write: impl FnOnce(&WriteTransaction) -> Result<()> + Send + 'static) {
        let shared = &self.guard.shared;
        let mut state = shared.lock();
        if state.queue.is_empty() {
            state.first_queued = Instant::now();
        }
        state.queue.push((what, Box::new(write)));
        state.submitted += 1;
        // A writer with writes already queued wakes at the end of the window
        // anyway. Waking it for each write would cost a system call each.
        if state.queue.len() == 1 || state.queue.len() >= BATCH_MAX {
            shared.work.notify_one();
        }
    }

    /// Waits until every write queued so far is committed. Fails when the
    /// writer thread has stopped, after a panic in redb.
    pub fn sync(&self) -> Result<()> {
        let shared = &self.guard.shared;
        let mut state = shared.lock();
        let target = state.submitted;
        if state.applied >= target {
            return Ok(());
        }
        state.readers_waiting += 1;
        shared.work.notify_one();
        while state.applied < target && !state.writer_gone {
            state = shared.written.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.readers_waiting -= 1;
        if state.applied < target {
            bail!(
                "the thread that writes task records and cache entries stopped; the state database may be \
                 damaged: move it aside and run again"
            );
        }
        Ok(())
    }

    /// Begins a read transaction that includes every write queued so far.
    /// Write closures passed to [`StateDatabase::submit`] must not call it,
    /// because they would wait for themselves.
    pub fn begin_read(&self) -> Result<ReadTransaction> {
        self.sync()?;
        self.begin_read_committed()
    }

    /// Begins a read transaction over committed writes only, without waiting
    /// for the queue. Suits reads where a missed queued write does no harm,
    /// such as a cache lookup.
    pub fn begin_read_committed(&self) -> Result<ReadTransaction> {
        Ok(redb::ReadableDatabase::begin_read(self.guard.database.as_ref())?)
    }

    /// Begins a write transaction after every queued write, to commit with
    /// [`StateDatabase::commit`].
    pub fn begin_write(&self) -> Result<WriteTransaction> {
        self.sync()?;
        Ok(self.guard.database.begin_write()?)
    }

    /// Commits `transaction` durably, together with every write committed
    /// before it: the start and end of a run.
    pub fn commit(&self, mut transaction: WriteTransaction) -> Result<()> {
        transaction.set_durability(Durability::Immediate).context("failed to set the commit's durability")?;
        transaction.commit()?;
        // `pending` stays as it is: the writer may have committed a batch
        // after this commit, and at worst the flush it leads to is empty.
        self.guard.shared.lock().last_durable = Instant::now();
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
        let writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            tracing::warn!("the state writer thread panicked; the last task records may be lost");
        }
    }
}

/// Guard that marks the writer thread as ended when dropped, also by a
/// panic, and wakes the readers waiting for it.
struct WriterGone<'a>(&'a Shared);

impl Drop for WriterGone<'_> {
    fn drop(&mut self) {
        self.0.lock().writer_gone = true;
        self.0.written.notify_all();
    }
}

/// Writes queued changes in batches, each batch in one transaction once its
/// oldest write has waited [`BATCH_WINDOW`] or a reader waits, and makes them
/// durable once their window ends. On close, writes what is
/// left, makes it durable and returns.
fn write_loop(database: &Database, shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if !state.queue.is_empty() {
            let batch_due = state.first_queued + BATCH_WINDOW;
            let now = Instant::now();
            let commit_now =
                now >= batch_due || state.readers_waiting > 0 || state.closed || state.queue.len() >= BATCH_MAX;
            if !commit_now {
                state =
                    shared.work.wait_timeout(state, batch_due - now).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
                continue;
            }
            let batch = std::mem::take(&mut state.queue);
            let durable = state.last_durable.elapsed() >= DURABLE_WINDOW;
            drop(state);
            let count = batch.len() as u64;
            // A panic inside redb must not stop the thread that readers wait on.
            let written =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_batch(database, batch, durable)));
            match written {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(error = %format!("{error:#}"), "failed to write task records or cache entries")
                }
                Err(_) => tracing::warn!("writing task records or cache entries panicked; they are lost"),
            }
            state = shared.lock();
            state.applied += count;
            state.batches += 1;
            if durable {
                state.last_durable = Instant::now();
                state.pending = false;
            } else {
                state.pending = true;
            }
            shared.written.notify_all();
            continue;
        }
        if state.pending {
            let due = state.last_durable + DURABLE_WINDOW;
            let now = Instant::now();
            if now >= due || state.closed {
                drop(state);
                let flushed = flush(database);
                state = shared.lock();
                match flushed {
                    Ok(()) => {
                        state.last_durable = Instant::now();
                        state.pending = false;
                    }
                    Err(error) => {
                        tracing::warn!(error = %format!("{error:#}"), "failed to make state writes durable");
                        if state.closed {
                            return;
                        }
                        // Tries again after a window rather than at once.
                        state.last_durable = Instant::now();
                    }
                }
                continue;
            }
            state = shared.work.wait_timeout(state, due - now).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
            continue;
        }
        if state.closed {
            shared.written.notify_all();
            return;
        }
        state = shared.work.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

/// Applies `batch` in one transaction. A change that fails is logged; what
/// it wrote before failing is committed with the others.
fn write_batch(database: &Database, batch: Vec<Write>, durable: bool) -> Result<()> {
    let mut transaction = database.begin_write()?;
    let durability = if durable { Durability::Immediate } else { Durability::None };
    transaction.set_durability(durability).context("failed to set the commit's durability")?;
    for (what, write) in batch {
        if let Err(error) = write(&transaction) {
            tracing::warn!(error = %format!("{error:#}"), "failed to {what}");
        }
    }
    transaction.commit().context("failed to commit task records and cache entries")?;
    Ok(())
}

/// Commits an empty durable transaction, which makes the earlier ones
/// durable too.
fn flush(database: &Database) -> Result<()> {
    let mut transaction = database.begin_write()?;
    transaction.set_durability(Durability::Immediate).context("failed to set the commit's durability")?;
    transaction.commit().context("failed to make the state writes durable")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::ReadableTable;

    use super::*;

    const TABLE: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("test");

    fn submit(database: &StateDatabase, value: u64) {
        database.submit("write a test value", move |transaction| {
            transaction.open_table(TABLE)?.insert("key", value)?;
            Ok(())
        });
    }

    fn read(database: &StateDatabase) -> u64 {
        database.begin_read().unwrap().open_table(TABLE).unwrap().get("key").unwrap().unwrap().value()
    }

    fn open(path: &std::path::Path) -> StateDatabase {
        StateDatabase::new(redb::Database::create(path).unwrap())
    }

    #[test]
    fn read_includes_queued_writes() {
        let folder = tempfile::tempdir().unwrap();
        let database = open(&folder.path().join("state.redb"));
        for value in 1..=100 {
            submit(&database, value);
        }

        assert_eq!(read(&database), 100);
    }

    #[test]
    fn queued_writes_share_transactions() {
        let folder = tempfile::tempdir().unwrap();
        let database = open(&folder.path().join("state.redb"));
        for value in 1..=200 {
            submit(&database, value);
        }
        database.sync().unwrap();

        let batches = database.guard.shared.lock().batches;
        // One transaction unless the test thread stalled for a whole batch
        // window between two writes.
        assert!(batches < 20, "200 writes took {batches} transactions");
        assert_eq!(read(&database), 200);
    }

    #[test]
    fn queued_write_durable_within_window() {
        let folder = tempfile::tempdir().unwrap();
        let database = open(&folder.path().join("state.redb"));
        let transaction = database.begin_write().unwrap();
        database.commit(transaction).unwrap();
        submit(&database, 2);
        database.sync().unwrap();
        assert!(database.guard.shared.lock().pending, "a write right after a durable commit waits");

        std::thread::sleep(DURABLE_WINDOW * 3);

        assert!(!database.guard.shared.lock().pending, "the writer made it durable");
    }

    #[test]
    fn last_drop_writes_queue_and_closes() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("state.redb");
        let database = open(&path);
        let clone = database.clone();
        submit(&database, 1);
        submit(&clone, 7);
        drop(database);
        drop(clone);

        let reopened = open(&path);

        assert_eq!(read(&reopened), 7);
    }
}
