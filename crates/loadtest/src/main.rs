//! `conduit-load`: runs the Conduit load test. Goose reads the command line
//! (`conduit-load --help`); the traffic mix and pauses come from the environment
//! (`CONDUIT_LOAD_MIX`, `CONDUIT_LOAD_WAIT_MS`, `CONDUIT_LOAD_LOGIN_*`).

use std::process::ExitCode;

use conduit_loadtest::mix::{Mix, Wait};
use conduit_loadtest::scenarios;
use conduit_loadtest::session::Account;
use goose::GooseAttack;

#[tokio::main]
async fn main() -> ExitCode {
    let (mix, wait) = match (Mix::from_env(), Wait::from_env()) {
        (Ok(mix), Ok(wait)) => (mix, wait),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("conduit-load: {error}");
            return ExitCode::from(2);
        }
    };
    let attack = GooseAttack::initialize()
        .and_then(|attack| scenarios::register(attack, &mix, wait, Account::login_from_env()));
    let attack = match attack {
        Ok(attack) => attack,
        Err(error) => {
            eprintln!("conduit-load: {error}");
            return ExitCode::from(2);
        }
    };
    eprintln!("conduit-load: mix {mix}");
    match attack.execute().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("conduit-load: {error}");
            ExitCode::FAILURE
        }
    }
}
