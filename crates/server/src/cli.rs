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
//! conduit seed --users N --articles N [...]
//!                                 fill the database with realistic data for load tests
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
    /// Fill the database with generated data.
    Seed(SeedArgs),
    /// Print usage.
    Help,
}

/// `conduit seed`'s options, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedArgs {
    /// Users to create.
    pub users: u64,
    /// Articles to create.
    pub articles: u64,
    /// Favorites (default: 5 per article, at most one per user and article).
    pub favorites: u64,
    /// Follows (default: 20 per user, at most everyone following everyone else).
    pub follows: u64,
    /// Comments (default: 2 per article).
    pub comments: u64,
    /// Every seeded user's password.
    pub password: String,
    /// Seed of the pseudo-random generator: the same seed gives the same data.
    pub rng_seed: u64,
    /// Add to a database that already has users.
    pub append: bool,
}

/// The password of seeded users unless `--password` says otherwise.
pub const DEFAULT_SEED_PASSWORD: &str = "password123";

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
       conduit seed --users N --articles N [--favorites N] [--follows N]
                    [--comments N] [--password P] [--seed N] [--append]
                             fill the database with generated users, follows,
                             articles, tags, favorites and comments for load tests
                             (defaults: 5 favorites and 2 comments per article, 20
                             follows per user, password password123, seed 1); refuses
                             a database that has users unless --append

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
        ["seed", options @ ..] => parse_seed(options).map(Command::Seed),
        ["migrate", "down", steps] => steps
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(Command::MigrateDown)
            .ok_or_else(|| format!("STEPS must be a positive number, not {steps:?}")),
        _ => Err(format!("unknown command: {}", words.join(" "))),
    }
}

fn parse_seed(options: &[&str]) -> Result<SeedArgs, String> {
    let mut counts: [Option<u64>; 6] = [None; 6];
    const NAMES: [&str; 6] = [
        "--users",
        "--articles",
        "--favorites",
        "--follows",
        "--comments",
        "--seed",
    ];
    let mut password = None;
    let mut append = false;
    let mut rest = options.iter();
    while let Some(option) = rest.next() {
        if *option == "--append" {
            append = true;
            continue;
        }
        let value = rest
            .next()
            .ok_or_else(|| format!("{option} needs a value"))?;
        if *option == "--password" {
            password = Some((*value).to_owned());
        } else if let Some(slot) = NAMES.iter().position(|name| name == option) {
            let n = value
                .parse::<u64>()
                .map_err(|_| format!("{option} must be a number, not {value:?}"))?;
            counts[slot] = Some(n);
        } else {
            return Err(format!("unknown seed option {option:?}"));
        }
    }
    let [users, articles, favorites, follows, comments, rng_seed] = counts;
    let users = users.ok_or("seed needs --users N")?;
    let articles = articles.ok_or("seed needs --articles N")?;
    Ok(SeedArgs {
        users,
        articles,
        favorites: favorites.unwrap_or_else(|| {
            articles
                .saturating_mul(5)
                .min(users.saturating_mul(articles))
        }),
        follows: follows.unwrap_or_else(|| {
            users
                .saturating_mul(20)
                .min(users.saturating_mul(users.saturating_sub(1)))
        }),
        comments: comments.unwrap_or_else(|| articles.saturating_mul(2)),
        password: password.unwrap_or_else(|| DEFAULT_SEED_PASSWORD.to_owned()),
        rng_seed: rng_seed.unwrap_or(1),
        append,
    })
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

    #[test]
    fn parses_seed_with_proportional_defaults() {
        assert_eq!(
            run(&["seed", "--users", "10000", "--articles", "1000000"]),
            Ok(Command::Seed(SeedArgs {
                users: 10_000,
                articles: 1_000_000,
                favorites: 5_000_000,
                follows: 200_000,
                comments: 2_000_000,
                password: "password123".into(),
                rng_seed: 1,
                append: false,
            }))
        );
        assert_eq!(
            run(&[
                "seed",
                "--articles",
                "20",
                "--append",
                "--users",
                "3",
                "--favorites",
                "7",
                "--follows",
                "2",
                "--comments",
                "0",
                "--password",
                "hunter2hunter2",
                "--seed",
                "42",
            ]),
            Ok(Command::Seed(SeedArgs {
                users: 3,
                articles: 20,
                favorites: 7,
                follows: 2,
                comments: 0,
                password: "hunter2hunter2".into(),
                rng_seed: 42,
                append: true,
            }))
        );
        // Defaults never ask for more than the users can make.
        let Ok(Command::Seed(tiny)) = run(&["seed", "--users", "2", "--articles", "1"]) else {
            panic!("tiny seed should parse");
        };
        assert_eq!((tiny.favorites, tiny.follows), (2, 2));
        assert!(run(&["seed", "--users", "5"]).is_err());
        assert!(run(&["seed", "--articles", "5"]).is_err());
        assert!(run(&["seed", "--users", "many", "--articles", "5"]).is_err());
        assert!(run(&["seed", "--users", "5", "--articles"]).is_err());
        assert!(run(&["seed", "--users", "5", "--articles", "5", "--wat", "1"]).is_err());
    }
}
