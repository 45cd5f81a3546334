//! Telling a caller how far seeding has got.

/// Told how far seeding has got, to show progress.
pub trait SeedProgress {
    /// A phase begins, with this many rows of its main table to write.
    fn phase(&mut self, name: &'static str, total: u64);
    /// This many more rows of the current phase's main table are written.
    fn advance(&mut self, rows: u64);
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl SeedProgress for NoProgress {
    fn phase(&mut self, _: &'static str, _: u64) {}
    fn advance(&mut self, _: u64) {}
}
