//! Size and time of each coding at several levels, for the bodies in the files given
//! (for example a saved `GET /api/articles` and `/openapi.json`): how the levels of
//! `crates/api/src/compression.rs` were chosen (ADR 0024, docs/performance.md).
//!
//! `cargo run --release -p conduit-api --example compression_levels -- list.json openapi.json`

#![allow(missing_docs)]

use std::{hint::black_box, io::Write, time::Instant};

/// Mean time of `f` over enough runs to take about half a second, in microseconds.
fn time(mut f: impl FnMut() -> usize) -> f64 {
    let started = Instant::now();
    let mut runs = 0u32;
    while started.elapsed().as_millis() < 500 {
        black_box(f());
        runs += 1;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
}

fn brotli(body: &[u8], quality: u32) -> usize {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, quality, 22);
        writer.write_all(body).expect("write");
    }
    out.len()
}

fn gzip(body: &[u8], level: u32) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(body).expect("write");
    encoder.finish().expect("finish").len()
}

fn zstd(body: &[u8], level: i32) -> usize {
    zstd::bulk::compress(body, level).expect("zstd").len()
}

fn main() {
    for path in std::env::args().skip(1) {
        let body = std::fs::read(&path).expect("readable file");
        println!("{path}: {} bytes", body.len());
        println!("| coding | level | bytes | ratio | µs per body |");
        println!("|---|---|---|---|---|");
        let row = |name: &str, level: String, f: &dyn Fn() -> usize| {
            let size = f();
            let micros = time(f);
            println!(
                "| {name} | {level} | {size} | {:.1}% | {micros:.0} |",
                100.0 * size as f64 / body.len() as f64
            );
        };
        for level in [1, 6, 9] {
            row("gzip", level.to_string(), &|| gzip(&body, level));
        }
        for quality in [1, 3, 4, 5, 6, 8, 11] {
            row("br", quality.to_string(), &|| brotli(&body, quality));
        }
        for level in [1, 3, 6, 9, 19] {
            row("zstd", level.to_string(), &|| zstd(&body, level));
        }
        println!();
    }
}
