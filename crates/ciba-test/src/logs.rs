//! A log capture: an [`std::io::Write`] that keeps what a `tracing` subscriber wrote, so a
//! test can read it back as text. Hand a `tracing_subscriber::fmt()` builder
//! `.with_writer(move || capture.clone())`.

use std::sync::{Arc, Mutex, PoisonError};

/// Shared bytes: every clone writes to, and reads from, the same buffer.
#[derive(Clone, Default, Debug)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far, as (lossy) UTF-8.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
