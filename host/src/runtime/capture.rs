//! Capture of a task's stdout and stderr into memory, up to a byte cap.
//!
//! Bytes past the cap are dropped and counted, never an error for the guest:
//! a chatty task must not fail because of its output, and must not fill the
//! host's memory either.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped: u64,
}

/// An output stream that keeps its first `capacity` bytes.
#[derive(Debug, Clone)]
pub(crate) struct CapturedOutput {
    capacity: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl CapturedOutput {
    pub(crate) fn new(capacity: usize) -> Self {
        CapturedOutput { capacity, buffer: Arc::default() }
    }

    /// The bytes kept and the number of bytes dropped past the cap.
    pub(crate) fn take(&self) -> (Vec<u8>, u64) {
        let mut buffer = self.buffer.lock().expect("capture lock is never poisoned");
        (std::mem::take(&mut buffer.bytes), buffer.dropped)
    }

    /// A copy of the bytes kept so far.
    pub(crate) fn contents(&self) -> Vec<u8> {
        self.buffer.lock().expect("capture lock is never poisoned").bytes.clone()
    }

    fn append(&self, data: &[u8]) {
        let mut buffer = self.buffer.lock().expect("capture lock is never poisoned");
        let room = self.capacity.saturating_sub(buffer.bytes.len());
        let kept = data.len().min(room);
        buffer.bytes.extend_from_slice(&data[..kept]);
        buffer.dropped += (data.len() - kept) as u64;
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept a full write: bytes past the cap are dropped in `write`.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.append(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_prefix_and_counts_dropped() {
        let capture = CapturedOutput::new(5);
        capture.append(b"abc");
        capture.append(b"defgh");
        assert_eq!(capture.take(), (b"abcde".to_vec(), 3));
    }
}
