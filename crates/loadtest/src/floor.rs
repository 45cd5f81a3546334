//! `conduit-floor`: the framework's floor for a response, to measure the service
//! against. A bare poem server with no middleware that answers `GET /NAME` with the
//! bytes of the file `DIR/NAME` (captured responses of the real service), as
//! `application/json`. What it serves per second is the most this stack (poem, hyper,
//! tokio, the machine) can serve of those bytes; our throughput divided by it is the
//! share of the floor we reach (docs/performance.md, `tools/load/reads.sh`).
//!
//!   conduit-floor ADDRESS DIR      e.g. conduit-floor 127.0.0.1:8090 /tmp/captured

use std::process::ExitCode;

use poem::{
    Response, Route, Server, endpoint::make_sync, get, http::header, listener::TcpListener,
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(dir)) = (args.next(), args.next()) else {
        eprintln!("usage: conduit-floor ADDRESS DIR");
        return ExitCode::from(2);
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) => {
            eprintln!("conduit-floor: {dir}: {error}");
            return ExitCode::from(2);
        }
    };
    let mut route = Route::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = match std::fs::read(entry.path()) {
            Ok(bytes) => bytes::Bytes::from(bytes),
            Err(error) => {
                eprintln!("conduit-floor: {name}: {error}");
                return ExitCode::from(2);
            }
        };
        eprintln!("conduit-floor: /{name}: {} bytes", bytes.len());
        route = route.at(
            format!("/{name}"),
            get(make_sync(move |_| {
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(bytes.clone())
            })),
        );
    }
    match Server::new(TcpListener::bind(address)).run(route).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("conduit-floor: {error}");
            ExitCode::FAILURE
        }
    }
}
