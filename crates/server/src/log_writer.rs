//! Where log lines go: a buffer that a thread of its own writes out in batches.
//!
//! Writing each line to standard output as it is made costs one system call per line on
//! the thread serving the request, and the two worker threads contend for the output's
//! lock: about 8% of the CPU of `GET /health/live` (docs/performance.md). Here a line is
//! appended to a shared buffer under a short lock, and the `conduit-log` thread writes
//! whatever has gathered, at most [`BatchWriter::GATHER`] after the first line of a
//! batch, in one call. A queue of lines with a thread draining it as soon as one arrives
//! (`tracing-appender`'s design) was measured first: under load the thread woke for
//! nearly every line, so it cost about as much as it saved.
//!
//! No line is dropped: when [`BatchWriter::LIMIT`] bytes are waiting (the output is
//! slower than the logging), the threads logging wait for room. Dropping the
//! [`BatchWriter`] writes what is left and stops the thread (lines logged after that are
//! written in place); a process killed outright loses at most the lines of the last
//! [`BatchWriter::GATHER`].

use std::{
    io::{self, Write},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

/// The lines waiting to be written, and whether the writer is stopping.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when the first line of a batch arrives, and when the writer stops.
    arrived: Condvar,
    /// Signalled when a batch has been taken, for the threads waiting for room.
    taken: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves whole lines (an append is one call).
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8], limit: usize) {
        let mut pending = self.lock();
        while pending.bytes.len() >= limit && !pending.closed {
            pending = self
                .taken
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if pending.closed {
            // The writer is gone (a subscriber outliving it): nobody would write a
            // buffered line, so this one is written in place.
            drop(pending);
            let _ = io::stdout().write_all(line);
            return;
        }
        let first = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(line);
        drop(pending);
        if first {
            self.arrived.notify_one();
        }
    }
}

/// The writing thread and its buffer; [`LineSink`]s append to it. Dropping it writes
/// what is buffered and waits for the thread.
#[derive(Debug)]
pub struct BatchWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// How long the thread lets lines gather after the first one of a batch.
    pub const GATHER: Duration = Duration::from_millis(2);

    /// How many bytes may wait before the threads logging wait for room.
    pub const LIMIT: usize = 8 * 1024 * 1024;

    /// Starts the `conduit-log` thread writing to `output`, which it flushes after each
    /// batch.
    pub fn start(output: impl Write + Send + 'static) -> io::Result<Self> {
        Self::with_gather(output, Self::GATHER)
    }

    fn with_gather(mut output: impl Write + Send + 'static, gather: Duration) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("conduit-log".into())
                .spawn(move || write_batches(&shared, &mut output, gather))?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Where the log layer writes.
    pub fn sink(&self) -> LineSink {
        LineSink {
            shared: Some(self.shared.clone()),
            limit: Self::LIMIT,
        }
    }
}

impl Drop for BatchWriter {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_one();
        self.shared.taken.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's loop: wait for a first line, let others gather, write them all; until
/// closed with nothing left.
fn write_batches(shared: &Shared, output: &mut impl Write, gather: Duration) {
    let mut batch = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.closed {
            pending = shared
                .arrived
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if pending.bytes.is_empty() {
            return;
        }
        if !pending.closed {
            drop(pending);
            std::thread::sleep(gather);
            pending = shared.lock();
        }
        std::mem::swap(&mut batch, &mut pending.bytes);
        drop(pending);
        shared.taken.notify_all();
        // Nowhere to report a failed write of the log itself; the next batch tries again.
        let _ = output.write_all(&batch).and_then(|()| output.flush());
        batch.clear();
        // A burst's buffer is not kept for ever.
        batch.shrink_to(BatchWriter::LIMIT / 64);
    }
}

/// A handle that appends each write (a whole formatted line) to the [`BatchWriter`]'s
/// buffer, or, made by [`LineSink::stdout`], writes it to standard output at once.
#[derive(Debug, Clone)]
pub struct LineSink {
    shared: Option<Arc<Shared>>,
    limit: usize,
}

impl LineSink {
    /// Writes each line to standard output as it comes: for a process whose writing
    /// thread could not be started.
    pub fn stdout() -> Self {
        Self {
            shared: None,
            limit: 0,
        }
    }
}

impl Write for LineSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.shared {
            Some(shared) => {
                shared.append(buf, self.limit);
                Ok(buf.len())
            }
            None => io::stdout().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.shared {
            Some(_) => Ok(()),
            None => io::stdout().flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for LineSink {
    type Writer = LineSink;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that keeps what it was given, and counts the writes.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut kept = self.0.lock().expect("lock");
            kept.0.extend_from_slice(buf);
            kept.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_and_lines_are_gathered() {
        let kept = Kept::default();
        let writer =
            BatchWriter::with_gather(kept.clone(), Duration::from_millis(50)).expect("thread");
        let mut sink = writer.sink();
        for n in 0..1000 {
            sink.write_all(format!("line {n}\n").as_bytes())
                .expect("write");
        }
        // The first batch is written after the gathering time, without waiting for a drop.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while kept.0.lock().expect("lock").0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "nothing written");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(writer);
        let (bytes, writes) = kept.0.lock().expect("lock").clone();
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(String::from_utf8(bytes).expect("utf-8"), expected);
        assert!(writes < 10, "{writes} writes for 1,000 lines");
    }

    #[test]
    fn dropping_the_writer_writes_what_is_left() {
        let kept = Kept::default();
        // A gathering time far longer than the test: only the drop can write the line.
        let writer =
            BatchWriter::with_gather(kept.clone(), Duration::from_secs(3600)).expect("thread");
        writer.sink().write_all(b"last words\n").expect("write");
        drop(writer);
        assert_eq!(kept.0.lock().expect("lock").0, b"last words\n");
    }

    #[test]
    fn lines_after_the_writer_is_gone_are_not_kept() {
        let writer = BatchWriter::with_gather(Kept::default(), Duration::ZERO).expect("thread");
        let mut sink = writer.sink();
        let shared = writer.shared.clone();
        drop(writer);
        sink.write_all(b"{\"message\":\"written in place by a test\"}\n")
            .expect("write");
        assert!(
            shared.lock().bytes.is_empty(),
            "a line was kept with no one to write it"
        );
    }

    #[test]
    fn a_full_buffer_makes_the_logging_thread_wait_not_drop() {
        /// An output that blocks until released.
        #[derive(Clone)]
        struct Gate(Arc<(Mutex<bool>, Condvar)>, Kept);
        impl Write for Gate {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let (open, opened) = &*self.0;
                let mut open = open.lock().expect("lock");
                while !*open {
                    open = opened.wait(open).expect("wait");
                }
                self.1.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let kept = Kept::default();
        let gate = Gate(Arc::default(), kept.clone());
        let writer = BatchWriter::with_gather(gate.clone(), Duration::ZERO).expect("thread");
        let mut sink = writer.sink();
        sink.limit = 10;
        let logging = std::thread::spawn(move || {
            for n in 0..100 {
                sink.write_all(format!("{n:09}\n").as_bytes())
                    .expect("write");
            }
        });
        // With the output stuck, at most one batch is taken and one buffer filled: the
        // logging thread is held back, not dropping lines.
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !logging.is_finished(),
            "the logging thread was not held back"
        );
        *gate.0.0.lock().expect("lock") = true;
        gate.0.1.notify_all();
        logging.join().expect("logging");
        drop(writer);
        let written = String::from_utf8(kept.0.lock().expect("lock").0.clone()).expect("utf-8");
        let expected: String = (0..100).map(|n| format!("{n:09}\n")).collect();
        assert_eq!(written, expected);
    }
}
