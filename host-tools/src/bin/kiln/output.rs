//! Where the commands print: stdout through one buffer, with its failures kept apart from
//! the model's so that `main` can end quietly on a closed pipe, as `cat` and `grep` do.

use std::io::{self, BufWriter, StdoutLock, Write};

/// Standard output, buffered; every write error says it was stdout's.
pub struct Out(BufWriter<StdoutLock<'static>>);

/// Writing to stdout failed (a closed pipe, a full disk).
#[derive(Debug, thiserror::Error)]
#[error("stdout")]
pub struct StdoutError(#[source] pub io::Error);

impl Out {
    pub fn new() -> Self {
        Out(BufWriter::new(io::stdout().lock()))
    }

    pub fn line(&mut self, line: impl std::fmt::Display) -> Result<(), StdoutError> {
        writeln!(self.0, "{line}").map_err(StdoutError)
    }

    /// Text that already ends its lines.
    pub fn text(&mut self, text: &str) -> Result<(), StdoutError> {
        self.0.write_all(text.as_bytes()).map_err(StdoutError)
    }

    pub fn flush(&mut self) -> Result<(), StdoutError> {
        self.0.flush().map_err(StdoutError)
    }
}

/// True when `error` is stdout's reader having gone away: nothing more to say.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<StdoutError>()
            .is_some_and(|s| s.0.kind() == io::ErrorKind::BrokenPipe)
    })
}
