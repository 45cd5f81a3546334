//! `conduit`: the server binary. With no configuration it serves the whole API on
//! 127.0.0.1:8080 over a SQLite file, applying migrations at start. `conduit migrate ...`
//! manages the schema with the same configuration.

use std::{process::ExitCode, time::Instant};

use conduit_adapters::sql::{SqlStore, seed::SeedProgress};
use conduit_api::openapi;
use conduit_server::{
    Application, Config,
    cli::{self, Command},
    docs, telemetry,
};
use indicatif::{ProgressBar, ProgressStyle};

#[tokio::main]
async fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("{err}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match &command {
        Command::Help => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Docs(dir) => return write_docs(dir),
        Command::ApiKeyRoot => {
            let keys = conduit_adapters::biscuit::BiscuitApiKeys::generate();
            println!("# Keep this secret: it signs every API key.");
            println!(
                "CONDUIT_AUTH__API_KEY_PRIVATE_KEY={}",
                keys.private_key_hex()
            );
            println!(
                "# Public key (for verifying keys offline): {}",
                keys.public_key_hex()
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let mut telemetry = telemetry::init(&config.log);
    let outcome = match command {
        Command::Serve | Command::Help | Command::Docs(_) | Command::ApiKeyRoot => {
            serve(&config).await
        }
        Command::MigrateUp | Command::MigrateDown(_) | Command::MigrateStatus => {
            migrate(&config, command).await
        }
        Command::ApiKeyCreate {
            username,
            name,
            scopes,
            days,
        } => create_api_key(&config, &username, &name, &scopes, days).await,
        Command::Seed(args) => seed(&config, args).await,
    };
    // The server has stopped (in-flight requests finished): send the spans and metrics
    // still buffered before the process exits.
    telemetry.shutdown().await;
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "failed");
            ExitCode::FAILURE
        }
    };
    // The last log lines are written.
    drop(telemetry);
    code
}

async fn serve(config: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.addr(), "serving the Conduit API; OpenAPI document at /openapi.json");
    app.run_until(async {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
    })
    .await?;
    Ok(())
}

async fn migrate(config: &Config, command: Command) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqlStore::connect(config.database.url.expose()).await?;
    match command {
        // What changed goes to standard output, for the operator (or the job's log) to
        // see without the log format's noise.
        Command::MigrateUp => {
            let applied = store.migrate().await?;
            for name in &applied {
                println!("applied {name}");
            }
            let total = store.migration_status().await?.len();
            if applied.is_empty() {
                println!("the schema is up to date: all {total} migrations applied");
            } else {
                println!("{} of {total} migrations applied now", applied.len());
            }
        }
        Command::MigrateDown(steps) => {
            let reverted = store.rollback(steps).await?;
            for name in &reverted {
                println!("reverted {name}");
            }
            if reverted.is_empty() {
                println!("nothing to revert: no migration is applied");
            }
        }
        _ => {
            for (name, applied) in store.migration_status().await? {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
        }
    }
    Ok(())
}

/// Issues an API key for `username` and prints its token (shown this once).
async fn create_api_key(
    config: &Config,
    username: &str,
    name: &str,
    scopes: &[String],
    days: Option<u32>,
) -> Result<(), Box<dyn std::error::Error>> {
    use conduit_domain::api_key::{ApiKeyName, Scope};
    let name = ApiKeyName::parse(name).map_err(|e| format!("NAME: {e}"))?;
    let scopes = Scope::parse_list(scopes).map_err(|e| format!("SCOPES: {e}"))?;
    let app = conduit_server::wiring::wire(config).await?.app;
    let owner = app
        .profile(username, None)
        .await
        .map_err(|_| format!("no user named {username:?}"))?;
    let expires_at = days.map(|days| {
        conduit_domain::time::Timestamp::new(
            time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days)),
        )
    });
    let issued = app
        .create_api_key(
            owner.user_id,
            conduit_app::CreateApiKey {
                name,
                scopes,
                expires_at,
            },
        )
        .await?;
    println!(
        "# API key {} for {username}; shown once, keep it secret.",
        issued.key.id
    );
    println!("{}", issued.token);
    Ok(())
}

/// `conduit seed`: generated data for load tests, through the server's configuration
/// (database, Argon2 cost), with a progress bar per phase.
async fn seed(config: &Config, args: cli::SeedArgs) -> Result<(), Box<dyn std::error::Error>> {
    use conduit_adapters::{
        crypto::{Argon2Cost, Argon2Hasher},
        sql::seed::SeedPlan,
    };
    use conduit_domain::{ports::PasswordHasher as _, user::Password};

    let password = Password::new_secret(&args.password).map_err(|e| format!("--password: {e}"))?;
    let auth = &config.auth;
    let hasher = Argon2Hasher::new(
        Argon2Cost {
            memory_kib: auth.argon2_memory_kib,
            iterations: auth.argon2_iterations,
            parallelism: 1,
        },
        1,
    )
    .map_err(|e| e.to_string())?;
    // One hash for everyone: hashing a million passwords would take hours.
    let hash = hasher.hash(&password).await.map_err(|e| e.to_string())?;
    let store = SqlStore::connect(config.database.url.expose()).await?;
    let plan = SeedPlan {
        users: args.users,
        articles: args.articles,
        favorites: args.favorites,
        follows: args.follows,
        comments: args.comments,
        rng_seed: args.rng_seed,
        append: args.append,
    };
    let started = Instant::now();
    let mut bars = Bars {
        current: None,
        took: Vec::new(),
    };
    let seeded = store.seed(&plan, hash.as_str(), &mut bars).await;
    bars.finish();
    let report = match seeded {
        Ok(report) => report,
        Err(err) => {
            eprintln!("conduit seed: {err}");
            return Err(err.into());
        }
    };
    println!(
        "seeded {} users, {} follows, {} articles, {} article tags, {} favorites and {} \
         comments in {:.1?} (password {:?} for every user)",
        report.users,
        report.follows,
        report.articles,
        report.article_tags,
        report.favorites,
        report.comments,
        started.elapsed(),
        args.password,
    );
    for (name, rows, took) in bars.took {
        println!("  {name}: {rows} in {took:.1?}");
    }
    Ok(())
}

/// One bar per phase; each phase's time is kept for the summary.
struct Bars {
    current: Option<(&'static str, ProgressBar, Instant)>,
    took: Vec<(&'static str, u64, std::time::Duration)>,
}
impl Bars {
    fn finish(&mut self) {
        if let Some((name, bar, started)) = self.current.take() {
            bar.finish();
            self.took.push((name, bar.position(), started.elapsed()));
        }
    }
}
impl SeedProgress for Bars {
    fn phase(&mut self, name: &'static str, total: u64) {
        self.finish();
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{bar:40}] {human_pos}/{human_len} {per_sec:>12} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = ProgressBar::new(total).with_style(style).with_prefix(name);
        self.current = Some((name, bar, Instant::now()));
    }
    fn advance(&mut self, rows: u64) {
        if let Some((_, bar, _)) = &self.current {
            bar.inc(rows);
        }
    }
}

/// Writes the published OpenAPI document and the error catalogue; needs no database.
fn write_docs(dir: &str) -> ExitCode {
    let dir = std::path::Path::new(dir);
    let document = docs::standalone_document();
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join("openapi.yaml"), openapi::to_yaml(&document)))
        .and_then(|()| std::fs::write(dir.join("errors.md"), openapi::error_catalogue_markdown()));
    match written {
        Ok(()) => {
            println!("wrote {0}/openapi.yaml and {0}/errors.md", dir.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("could not write to {}: {err}", dir.display());
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
