//! `conduit`: the server binary. With no configuration it serves the whole API on
//! 127.0.0.1:8080 over a SQLite file, applying migrations at start.

use std::process::ExitCode;

use conduit_api::{Application, Config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log);
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "could not start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.addr(), "serving the Conduit API; OpenAPI document at /openapi.json");
    let shutdown = async {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
    };
    match app.run_until(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
