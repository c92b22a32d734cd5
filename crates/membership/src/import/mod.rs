//! Files a partnership already has, brought into the directory: the DfE's establishment
//! register ([`gias`]) and census rolls ([`census`]).
//!
//! Reading a file — decoding, columns by header name, every value checked and every problem
//! placed by line and column — is `school_register`'s (pure, and fuzzed); this module applies
//! what it reads. Every import works the same way, so the CLI and the GraphQL upload share it:
//! * The caller's permission is checked before a byte is read.
//! * The file is read on a blocking thread as a stream, one record buffer reused for every
//!   line, and handed to the database side in batches of [`BATCH`] rows through a bounded
//!   channel: memory stays flat whatever the file's size.
//! * Problems are collected up to [`MAX_PROBLEMS`]; then nothing is written.
//! * Applying is one transaction (batched statements), so the file goes in whole or not at
//!   all; a dry run computes the same report inside a read transaction and writes nothing.

pub mod census;
pub mod gias;

use std::io::Read;

pub use school_register::file::{BATCH, LineProblem, MAX_PROBLEMS, Progress};
use school_register::file::{FileReader, Sink, open};
use tokio::sync::mpsc;

/// What the reading thread sends to the database side.
pub(crate) enum Message<T> {
    Rows(Vec<T>, Progress),
    Problem(LineProblem),
}

/// Reads `source` on a blocking thread with `read`, which sends batches and problems; the
/// receiver ends when the file does (or when the database side stops listening).
pub(crate) fn spawn_reader<T, R, F>(source: R, read: F) -> mpsc::Receiver<Message<T>>
where
    T: Send + 'static,
    R: Read + Send + 'static,
    F: FnOnce(FileReader<Box<dyn Read + Send>>, &mut Sender<T>) + Send + 'static,
{
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let reader = open(Box::new(source) as Box<dyn Read + Send>);
        read(reader, &mut Sender(tx));
    });
    rx
}

/// The reading thread's end of the channel. A send fails only when the database side has
/// stopped (an error, already being returned), so the reader just stops too.
pub(crate) struct Sender<T>(mpsc::Sender<Message<T>>);

impl<T> Sink<T> for Sender<T> {
    fn rows(&mut self, rows: Vec<T>, progress: Progress) -> bool {
        self.0.blocking_send(Message::Rows(rows, progress)).is_ok()
    }

    fn problem(&mut self, problem: LineProblem) -> bool {
        self.0.blocking_send(Message::Problem(problem)).is_ok()
    }
}
