//! Selection of the run events that a deployment sends alerts for.

use std::time::Duration;

use serde::Deserialize;

use crate::alert::Event;

/// Event selection of a deployment, under `[notify.on]` in TOML.
///
/// ```toml
/// failure = true
/// success = false
/// retry = true
/// late_after = "10m"
/// longer_than = "2h"
/// ```
///
/// The server decides when a run is late or long-running by comparing
/// times with `late_after` and `longer_than`. This type only stores the
/// thresholds and the event selection that [`NotifyOn::wants`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyOn {
    /// Send [`Event::Failed`]; true by default.
    pub failure: bool,
    /// Send [`Event::Succeeded`]; false by default.
    pub success: bool,
    /// Send [`Event::Retrying`]; false by default.
    pub retry: bool,
    /// Send [`Event::Late`] when a run starts this long after its scheduled
    /// time; off by default.
    #[serde(deserialize_with = "crate::duration::deserialize_option")]
    pub late_after: Option<Duration>,
    /// Send [`Event::LongRunning`] when a run has been running this long;
    /// off by default.
    #[serde(deserialize_with = "crate::duration::deserialize_option")]
    pub longer_than: Option<Duration>,
}

impl Default for NotifyOn {
    fn default() -> Self {
        NotifyOn { failure: true, success: false, retry: false, late_after: None, longer_than: None }
    }
}

impl NotifyOn {
    /// Returns whether alerts for `event` should be sent. `Late` and
    /// `LongRunning` are wanted when their threshold is set.
    pub fn wants(&self, event: Event) -> bool {
        match event {
            Event::Failed => self.failure,
            Event::Succeeded => self.success,
            Event::Retrying => self.retry,
            Event::Late => self.late_after.is_some(),
            Event::LongRunning => self.longer_than.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_wants_only_failure() {
        let on = NotifyOn::default();
        assert!(on.wants(Event::Failed));
        assert!(!on.wants(Event::Succeeded));
        assert!(!on.wants(Event::Retrying));
        assert!(!on.wants(Event::Late));
        assert!(!on.wants(Event::LongRunning));
    }

    #[test]
    fn thresholds_enable_late_and_long_running() {
        let on: NotifyOn = toml::from_str("failure = false\nlate_after = \"10m\"\nlonger_than = \"2h\"").unwrap();
        assert!(!on.wants(Event::Failed));
        assert!(on.wants(Event::Late));
        assert!(on.wants(Event::LongRunning));
        assert_eq!(on.late_after, Some(Duration::from_secs(600)));
        assert_eq!(on.longer_than, Some(Duration::from_secs(7200)));
    }

    #[test]
    fn invalid_duration_is_rejected() {
        let error = toml::from_str::<NotifyOn>("late_after = \"ten minutes\"").unwrap_err();
        assert!(error.message().contains("invalid duration `ten minutes`"), "{error}");
    }
}
