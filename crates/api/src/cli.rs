//! The command line of the one binary:
//!
//! ```text
//! conduit [serve]                 serve the API (the default)
//! conduit migrate up              apply pending migrations
//! conduit migrate down [STEPS]    revert the last STEPS migrations (default 1)
//! conduit migrate status          list migrations and whether each is applied
//! conduit docs [DIR]              write DIR/openapi.yaml and DIR/errors.md (default docs)
//! conduit api-key-root            print a new private key for signing API keys
//! conduit api-key create USER NAME SCOPES [DAYS]
//!                                 issue an API key for USER (a machine client, say)
//! ```
//!
//! Every command reads the same configuration (`DATABASE_URL` and friends).

/// What the binary was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve the API.
    Serve,
    /// Apply pending migrations.
    MigrateUp,
    /// Revert this many migrations.
    MigrateDown(u32),
    /// Show migration status.
    MigrateStatus,
    /// Write the OpenAPI document and the error catalogue into this directory.
    Docs(String),
    /// Print a new API-key signing key.
    ApiKeyRoot,
    /// Issue an API key for a user.
    ApiKeyCreate {
        /// The owner's username.
        username: String,
        /// The key's name.
        name: String,
        /// Comma-separated scopes.
        scopes: Vec<String>,
        /// Days until it expires; none: it does not expire.
        days: Option<u32>,
    },
    /// Print usage.
    Help,
}

/// Usage text.
pub const USAGE: &str = "usage: conduit [serve]
       conduit migrate up
       conduit migrate down [STEPS]
       conduit migrate status
       conduit docs [DIR]    write DIR/openapi.yaml and DIR/errors.md (default: docs)
       conduit api-key-root  print a new private key for CONDUIT_AUTH__API_KEY_PRIVATE_KEY
       conduit api-key create USERNAME NAME SCOPE[,SCOPE...] [DAYS]
                             issue an API key acting as USERNAME (printed once), valid
                             for DAYS days or until revoked; scopes: articles:write,
                             comments:write, favorites:write, follows:write, user:read,
                             user:write

Configuration: defaults, conduit.toml (or $CONDUIT_CONFIG), DATABASE_URL, REDIS_URL,
HOST, PORT, then CONDUIT_* variables (CONDUIT_SERVER__PORT=9000).";

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let args: Vec<String> = args.into_iter().collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => Ok(Command::Serve),
        ["-h" | "--help" | "help"] => Ok(Command::Help),
        ["migrate", "up"] => Ok(Command::MigrateUp),
        ["migrate", "status"] => Ok(Command::MigrateStatus),
        ["migrate", "down"] => Ok(Command::MigrateDown(1)),
        ["docs"] => Ok(Command::Docs("docs".into())),
        ["api-key-root"] => Ok(Command::ApiKeyRoot),
        ["docs", dir] => Ok(Command::Docs((*dir).to_owned())),
        ["api-key", "create", username, name, scopes, rest @ ..] if rest.len() <= 1 => {
            let days = match rest {
                [] => None,
                [days] => Some(
                    days.parse::<u32>()
                        .ok()
                        .filter(|d| *d > 0)
                        .ok_or_else(|| format!("DAYS must be a positive number, not {days:?}"))?,
                ),
                _ => unreachable!("at most one more word"),
            };
            Ok(Command::ApiKeyCreate {
                username: (*username).to_owned(),
                name: (*name).to_owned(),
                scopes: scopes
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                days,
            })
        }
        ["migrate", "down", steps] => steps
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(Command::MigrateDown)
            .ok_or_else(|| format!("STEPS must be a positive number, not {steps:?}")),
        _ => Err(format!("unknown command: {}", words.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Result<Command, String> {
        parse(words.iter().map(|w| (*w).to_owned()))
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(run(&[]), Ok(Command::Serve));
        assert_eq!(run(&["serve"]), Ok(Command::Serve));
        assert_eq!(run(&["migrate", "up"]), Ok(Command::MigrateUp));
        assert_eq!(run(&["migrate", "down"]), Ok(Command::MigrateDown(1)));
        assert_eq!(
            run(&[
                "api-key",
                "create",
                "jake",
                "ci bot",
                "user:read, articles:write",
                "30"
            ]),
            Ok(Command::ApiKeyCreate {
                username: "jake".into(),
                name: "ci bot".into(),
                scopes: vec!["user:read".into(), "articles:write".into()],
                days: Some(30),
            })
        );
        assert!(run(&["api-key", "create", "jake", "bot", "user:read", "0"]).is_err());
        assert!(run(&["api-key", "create", "jake", "bot"]).is_err());
        assert_eq!(run(&["migrate", "down", "3"]), Ok(Command::MigrateDown(3)));
        assert_eq!(run(&["migrate", "status"]), Ok(Command::MigrateStatus));
        assert_eq!(run(&["--help"]), Ok(Command::Help));
        assert_eq!(run(&["docs"]), Ok(Command::Docs("docs".into())));
        assert_eq!(run(&["api-key-root"]), Ok(Command::ApiKeyRoot));
        assert_eq!(run(&["docs", "out"]), Ok(Command::Docs("out".into())));
        assert!(run(&["migrate", "down", "0"]).is_err());
        assert!(run(&["migrate", "sideways"]).is_err());
        assert!(run(&["launch"]).is_err());
    }
}
