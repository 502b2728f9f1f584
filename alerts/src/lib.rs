//! Delivery of flow run alerts: the alert payload and the secrets that
//! channels refer to.
#![warn(missing_docs)]

mod alert;
mod secret;

pub use alert::{Alert, Event, FailedTask, MESSAGE_ERROR_CHARS};
pub use secret::{Secret, SecretError, SecretRef, Secrets, SecretsFileError};
