//! The traffic mix: how many goose users each scenario gets, relative to the others,
//! and the pause between one user's requests. Both come from environment variables,
//! because goose owns the command line.

use std::fmt;
use std::time::Duration;

/// Environment variable holding the mix, e.g. `browse:60,read:25,write:10,login:5`.
pub const MIX_VAR: &str = "CONDUIT_LOAD_MIX";
/// Environment variable holding the pause after each request, `MIN-MAX` in milliseconds.
pub const WAIT_VAR: &str = "CONDUIT_LOAD_WAIT_MS";

/// One kind of traffic the load test can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anonymous visitors: article lists, tags, articles, comments, profiles.
    Browse,
    /// Signed-in readers: feed, favorites, articles, their own account.
    Read,
    /// Signed-in writers: articles, comments, favorites, follows.
    Write,
    /// Repeated sign-ins with one known account.
    Login,
}

impl Kind {
    /// Every kind, in the order scenarios are registered.
    pub const ALL: [Kind; 4] = [Kind::Browse, Kind::Read, Kind::Write, Kind::Login];

    /// The name used in [`MIX_VAR`] and as the goose scenario name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Browse => "browse",
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Login => "login",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A weight for each scenario; a weight of 0 means the scenario does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    weights: [(Kind, usize); 4],
}

impl Default for Mix {
    /// Mostly anonymous reading, as on a public blog: browse 60, read 25, write 10, login 5.
    fn default() -> Self {
        Self {
            weights: [
                (Kind::Browse, 60),
                (Kind::Read, 25),
                (Kind::Write, 10),
                (Kind::Login, 5),
            ],
        }
    }
}

/// Why a mix or a wait could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn fail<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError(message))
}

impl Mix {
    /// Parses `name:weight` pairs separated by commas. Scenarios left out do not run;
    /// names are `browse`, `read`, `write` and `login`, each at most once; at least one
    /// weight must be above zero.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let mut weights = Kind::ALL.map(|kind| (kind, 0));
        let mut seen = Vec::new();
        for part in raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let Some((name, weight)) = part.split_once(':') else {
                return fail(format!("{MIX_VAR}: `{part}` is not `name:weight`"));
            };
            let name = name.trim();
            let Some(kind) = Kind::from_name(name) else {
                return fail(format!(
                    "{MIX_VAR}: unknown scenario `{name}` (expected browse, read, write or login)"
                ));
            };
            if seen.contains(&kind) {
                return fail(format!("{MIX_VAR}: `{name}` is given twice"));
            }
            seen.push(kind);
            let Ok(weight) = weight.trim().parse::<usize>() else {
                return fail(format!(
                    "{MIX_VAR}: the weight of `{name}` is not a whole number: `{weight}`"
                ));
            };
            for entry in &mut weights {
                if entry.0 == kind {
                    entry.1 = weight;
                }
            }
        }
        if weights.iter().all(|(_, weight)| *weight == 0) {
            return fail(format!("{MIX_VAR}: no scenario has a weight above zero"));
        }
        Ok(Self { weights })
    }

    /// Reads [`MIX_VAR`], or the default mix when it is unset or empty.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(MIX_VAR) {
            Ok(raw) if !raw.trim().is_empty() => Self::parse(&raw),
            _ => Ok(Self::default()),
        }
    }

    /// The weight of one scenario (0: it does not run).
    pub fn weight(&self, kind: Kind) -> usize {
        self.weights
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, weight)| *weight)
    }

    /// The scenarios that run, with their weights, in registration order.
    pub fn enabled(&self) -> impl Iterator<Item = (Kind, usize)> + '_ {
        self.weights
            .iter()
            .copied()
            .filter(|(_, weight)| *weight > 0)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .weights
            .iter()
            .map(|(kind, weight)| format!("{}:{weight}", kind.name()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// The pause after each request of a user, chosen at random between two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wait {
    /// Shortest pause.
    pub min: Duration,
    /// Longest pause.
    pub max: Duration,
}

impl Wait {
    /// Parses `MIN-MAX` or a single `N`, in milliseconds.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let number = |text: &str| {
            text.trim().parse::<u64>().map_err(|_| {
                ConfigError(format!(
                    "{WAIT_VAR}: `{raw}` is not `MIN-MAX` in milliseconds"
                ))
            })
        };
        let (min, max) = match raw.split_once('-') {
            Some((min, max)) => (number(min)?, number(max)?),
            None => {
                let both = number(raw)?;
                (both, both)
            }
        };
        if min > max {
            return fail(format!(
                "{WAIT_VAR}: the minimum {min} is above the maximum {max}"
            ));
        }
        Ok(Self {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        })
    }

    /// Reads [`WAIT_VAR`]; no pause when it is unset or empty.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(WAIT_VAR) {
            Ok(raw) if !raw.trim().is_empty() => Self::parse(&raw),
            _ => Ok(Self::default()),
        }
    }

    /// Whether any pause is configured.
    pub fn is_zero(&self) -> bool {
        self.max.is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let mix = Mix::parse("browse:60,read:25,write:10,login:5").unwrap();
        assert_eq!(mix, Mix::default());
        assert_eq!(mix.to_string(), "browse:60,read:25,write:10,login:5");
    }

    #[test]
    fn left_out_scenarios_do_not_run_and_spaces_are_allowed() {
        let mix = Mix::parse(" write : 3 , browse:1,").unwrap();
        assert_eq!(mix.weight(Kind::Browse), 1);
        assert_eq!(mix.weight(Kind::Write), 3);
        assert_eq!(mix.weight(Kind::Read), 0);
        assert_eq!(mix.weight(Kind::Login), 0);
        let enabled: Vec<_> = mix.enabled().collect();
        assert_eq!(enabled, vec![(Kind::Browse, 1), (Kind::Write, 3)]);
    }

    #[test]
    fn a_zero_weight_turns_a_scenario_off() {
        let mix = Mix::parse("browse:0,login:2").unwrap();
        assert_eq!(mix.enabled().collect::<Vec<_>>(), vec![(Kind::Login, 2)]);
    }

    #[test]
    fn bad_mixes_are_refused_with_a_reason() {
        for (raw, expected) in [
            ("browse", "is not `name:weight`"),
            ("surf:10", "unknown scenario `surf`"),
            ("browse:1,browse:2", "given twice"),
            ("browse:-1", "not a whole number"),
            ("browse:many", "not a whole number"),
            ("browse:0", "no scenario"),
            ("", "no scenario"),
        ] {
            let error = Mix::parse(raw).unwrap_err().to_string();
            assert!(error.contains(expected), "{raw:?} gave {error:?}");
            assert!(error.starts_with(MIX_VAR), "{error:?}");
        }
    }

    #[test]
    fn waits_parse_as_a_range_or_one_value() {
        assert_eq!(
            Wait::parse("100-2000").unwrap(),
            Wait {
                min: Duration::from_millis(100),
                max: Duration::from_millis(2000)
            }
        );
        assert_eq!(Wait::parse("50").unwrap().min, Duration::from_millis(50));
        assert!(Wait::parse("0").unwrap().is_zero());
        assert!(Wait::parse("9-1").is_err());
        assert!(Wait::parse("a-b").is_err());
    }
}
