//! Conversion of a task's input bytes to a value, and of its output value to bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Result, TaskError};

/// A type a task function takes as input.
///
/// Any `serde` type is read as JSON; [`Bytes`] and [`Text`] take the input
/// as it is.
pub trait Input: Sized {
    /// Decodes the input bytes that the host passed to the task.
    fn from_input(bytes: Vec<u8>) -> Result<Self>;
}

/// A type a task function returns as output.
///
/// Any `serde` type is written as JSON; [`Bytes`] and [`Text`] are written as
/// they are.
pub trait Output {
    /// Encodes the output bytes that the host stores and passes downstream.
    fn into_output(self) -> Result<Vec<u8>>;
}

/// Raw bytes, taken or returned unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

/// UTF-8 text, taken or returned unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl<T: DeserializeOwned> Input for T {
    fn from_input(bytes: Vec<u8>) -> Result<Self> {
        serde_json::from_slice(&bytes)
            .map_err(|error| TaskError::fatal(format!("input is not the JSON this task expects: {error}")))
    }
}

impl<T: Serialize> Output for T {
    fn into_output(self) -> Result<Vec<u8>> {
        serde_json::to_vec(&self)
            .map_err(|error| TaskError::fatal(format!("output could not be encoded as JSON: {error}")))
    }
}

impl Input for Bytes {
    fn from_input(bytes: Vec<u8>) -> Result<Self> {
        Ok(Bytes(bytes))
    }
}

impl Output for Bytes {
    fn into_output(self) -> Result<Vec<u8>> {
        Ok(self.0)
    }
}

impl Input for Text {
    fn from_input(bytes: Vec<u8>) -> Result<Self> {
        String::from_utf8(bytes).map(Text).map_err(|error| {
            TaskError::fatal(format!(
                "input is not UTF-8 text: invalid byte at offset {}",
                error.utf8_error().valid_up_to()
            ))
        })
    }
}

impl Output for Text {
    fn into_output(self) -> Result<Vec<u8>> {
        Ok(self.0.into_bytes())
    }
}
