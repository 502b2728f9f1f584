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
    /// The offset in `bytes` after the last line sent live.
    sent: usize,
}

/// Receives each complete line of captured output as it is written.
pub(crate) type LineCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// An output stream that keeps its first `capacity` bytes, and passes each
/// complete line among them to an optional callback as it arrives.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    capacity: usize,
    buffer: Arc<Mutex<Buffer>>,
    on_line: Option<LineCallback>,
}

impl CapturedOutput {
    pub(crate) fn new(capacity: usize, on_line: Option<LineCallback>) -> Self {
        CapturedOutput { capacity, buffer: Arc::default(), on_line }
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

        let Some(on_line) = &self.on_line else { return };
        while let Some(newline) = buffer.bytes[buffer.sent..].iter().position(|&byte| byte == b'\n') {
            let end = buffer.sent + newline;
            on_line(&String::from_utf8_lossy(&buffer.bytes[buffer.sent..end]));
            buffer.sent = end + 1;
        }
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
        let capture = CapturedOutput::new(5, None);
        capture.append(b"abc");
        capture.append(b"defgh");
        assert_eq!(capture.take(), (b"abcde".to_vec(), 3));
    }

    #[test]
    fn capture_sends_complete_lines() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let callback: LineCallback = Arc::new(move |line: &str| seen.lock().unwrap().push(line.to_string()));
        let capture = CapturedOutput::new(100, Some(callback));
        capture.append(b"one\ntw");
        capture.append(b"o\nthree");
        assert_eq!(*lines.lock().unwrap(), ["one", "two"]);
    }
}
