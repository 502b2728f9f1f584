//! The server's clock, injected so that tests move time by hand instead of
//! sleeping.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

/// The maximum time the system clock sleeps at once, so that the server notices
/// a change of the wall clock (an NTP step, a suspended machine) within
/// this time.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// A source of the current time that can wait until a given time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;

    /// Waits until `deadline`, or returns earlier; the caller checks the
    /// time again after it returns.
    fn sleep_until(&self, deadline: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let wait = Timestamp::now().duration_until(deadline);
        let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO).min(MAX_SLEEP);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when a test sets it.
pub struct ManualClock {
    now: watch::Sender<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock { now: watch::Sender::new(start) }
    }

    /// Moves the clock to `time`, waking the sleepers whose deadline passed.
    pub fn set(&self, time: Timestamp) {
        self.now.send_replace(time);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut receiver = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock, which outlives this call.
            let _ = receiver.wait_for(|now| *now >= deadline).await;
        })
    }
}
