//! Load tests for the Conduit API, on [goose](https://book.goose.rs).
//!
//! Four scenarios, mixed by weight (see [`mix`]): anonymous browsing, signed-in
//! reading, writing, and login bursts. Every slug, tag and username they use is learnt
//! from the server's own answers, so the test runs against any database, even an empty
//! one. The binary `conduit-load` takes goose's command-line options (`--host`,
//! `--users`, `--hatch-rate`, `--run-time`, `--report-file`...); see
//! `tools/load/README.md`.

pub mod mix;
pub mod scenarios;
pub mod session;
