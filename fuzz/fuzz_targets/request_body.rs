//! Request bodies as their handlers parse them: the first byte picks the body (register,
//! login, user update, article, article update, comment, API key, refresh, OAuth login
//! code, OAuth link start, OAuth link code), the rest is the body. Whatever the bytes,
//! parsing must not panic, and a refusal must be a 400 (not JSON) or a 422 (not the
//! documented shape, or a field breaking its rule), never a 500.

#![no_main]

use conduit_api::fuzzing::{Body, Outcome, parse_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let body = Body::ALL[usize::from(which) % Body::ALL.len()];
    if let Outcome::Refused(status) = parse_body(body, bytes) {
        assert!(
            status == 400 || status == 422,
            "{body:?} refused with {status}"
        );
    }
});
