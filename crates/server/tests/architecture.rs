//! The dependency rule, checked on every test run: dependencies point inward.
//! `conduit-domain` depends on no I/O crate and on no other crate of ours;
//! `conduit-app` depends on the domain only; `conduit-adapters` implements the domain's
//! ports and knows neither the use cases nor HTTP; `conduit-api` (the HTTP layer) knows
//! the use cases and the domain, never an adapter, a database or Redis client;
//! `conduit-server` wires adapters into the use cases and the HTTP layer, and reaches
//! sea-orm and fred only through the adapters; `conduit-migrations` knows only
//! sea-orm-migration.
//! Normal dependencies are followed transitively (the direct-only rule excepted);
//! dev-dependencies are not checked (tests may use adapters and query a database).

use std::{
    collections::{BTreeSet, HashMap},
    process::Command,
};

use serde_json::Value;

/// Crates that do I/O (network, database, HTTP) or pull a runtime in.
const IO_CRATES: &[&str] = &[
    "sea-orm",
    "sea-orm-migration",
    "sea-query",
    "sqlx",
    "poem",
    "poem-openapi",
    "fred",
    "redis",
    "reqwest",
    "hyper",
    "tokio",
    "tokio-postgres",
    "moka",
    "mio",
];

/// Our crates, from the innermost out.
const LAYERS: &[&str] = &[
    "conduit-domain",
    "conduit-app",
    "conduit-adapters",
    "conduit-api",
    "conduit-server",
];

/// The HTTP framework: only the HTTP layer and the server may reach it.
const HTTP_CRATES: &[&str] = &["poem", "poem-openapi"];

/// Storage and Redis clients: only the adapters (and the migrations) use them.
const STORAGE_CRATES: &[&str] = &[
    "sea-orm",
    "sea-orm-migration",
    "sea-query",
    "sqlx",
    "fred",
    "redis",
];

/// What `crate_name` may not reach through normal dependencies.
fn forbidden_for(crate_name: &str) -> Vec<&'static str> {
    let mut forbidden: Vec<&'static str> = match crate_name {
        "conduit-domain" | "conduit-app" => IO_CRATES.to_vec(),
        "conduit-adapters" | "conduit-migrations" => HTTP_CRATES.to_vec(),
        "conduit-api" => STORAGE_CRATES.to_vec(),
        _ => Vec::new(),
    };
    let ours: &[&'static str] = match crate_name {
        "conduit-domain" => &[
            "conduit-app",
            "conduit-adapters",
            "conduit-api",
            "conduit-server",
            "conduit-migrations",
        ],
        "conduit-app" => &[
            "conduit-adapters",
            "conduit-api",
            "conduit-server",
            "conduit-migrations",
        ],
        "conduit-adapters" => &["conduit-app", "conduit-api", "conduit-server"],
        "conduit-api" => &["conduit-adapters", "conduit-migrations", "conduit-server"],
        "conduit-migrations" => &[
            "fred",
            "reqwest",
            "conduit-domain",
            "conduit-app",
            "conduit-adapters",
            "conduit-api",
            "conduit-server",
        ],
        _ => &[],
    };
    forbidden.extend(ours);
    forbidden
}

/// What `crate_name` may not name as a direct normal dependency (it may reach them
/// through another crate of ours).
fn forbidden_directly_for(crate_name: &str) -> &'static [&'static str] {
    match crate_name {
        // The server reaches storage only through the adapters.
        "conduit-server" => STORAGE_CRATES,
        _ => &[],
    }
}

/// Every rule broken in `metadata` (the JSON of `cargo metadata --format-version 1`).
fn violations(metadata: &Value) -> Vec<String> {
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let name_of: HashMap<String, String> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p["name"].as_str()?.to_owned())))
        .collect();
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // id -> ids of its normal (non-dev, non-build) dependencies
    let normal_deps: HashMap<String, Vec<String>> = nodes
        .iter()
        .filter_map(|node| {
            let id = node["id"].as_str()?.to_owned();
            let deps = node["deps"]
                .as_array()?
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
                })
                .filter_map(|dep| dep["pkg"].as_str().map(str::to_owned))
                .collect();
            Some((id, deps))
        })
        .collect();

    let mut found = Vec::new();
    for (id, name) in &name_of {
        for dep in normal_deps.get(id).into_iter().flatten() {
            let dep_name = name_of.get(dep).cloned().unwrap_or_default();
            if forbidden_directly_for(name).contains(&dep_name.as_str()) {
                found.push(format!("{name} must not depend directly on {dep_name}"));
            }
        }
        let forbidden = forbidden_for(name);
        if forbidden.is_empty() {
            continue;
        }
        // Walk the normal dependency graph from this crate, remembering one path.
        let mut seen = BTreeSet::new();
        let mut stack = vec![(id.clone(), vec![name.clone()])];
        while let Some((current, path)) = stack.pop() {
            for dep in normal_deps.get(&current).into_iter().flatten() {
                if !seen.insert(dep.clone()) {
                    continue;
                }
                let dep_name = name_of.get(dep).cloned().unwrap_or_default();
                let mut dep_path = path.clone();
                dep_path.push(dep_name.clone());
                if forbidden.contains(&dep_name.as_str()) {
                    found.push(format!(
                        "{name} must not depend on {dep_name} (via {})",
                        dep_path.join(" -> ")
                    ));
                }
                stack.push((dep.clone(), dep_path));
            }
        }
    }
    found.sort();
    found
}

/// The host's target triple, so metadata covers only crates that build here (all of
/// them already downloaded by the build that runs this test).
fn host_triple() -> String {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

fn workspace_metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host_triple(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("metadata is JSON")
}

#[test]
fn dependencies_point_inward() {
    let metadata = workspace_metadata();
    let names: BTreeSet<_> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for layer in LAYERS {
        assert!(
            names.contains(layer),
            "{layer} is missing from the workspace"
        );
    }
    let broken = violations(&metadata);
    assert!(
        broken.is_empty(),
        "the dependency rule is broken:\n{}",
        broken.join("\n")
    );
}

/// The check itself can fail: add a forbidden edge to the real metadata and it must be
/// reported, both directly and through an intermediate crate.
#[test]
fn the_check_catches_forbidden_edges() {
    let mut metadata = workspace_metadata();
    let id_of = |metadata: &Value, name: &str| -> String {
        metadata["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .and_then(|p| p["id"].as_str())
            .expect("package present")
            .to_owned()
    };
    let domain = id_of(&metadata, "conduit-domain");
    let app = id_of(&metadata, "conduit-app");
    let adapters = id_of(&metadata, "conduit-adapters");
    let add_edge = |metadata: &mut Value, from: &str, to: &str| {
        let nodes = metadata["resolve"]["nodes"].as_array_mut().expect("nodes");
        let node = nodes.iter_mut().find(|n| n["id"] == from).expect("node");
        node["deps"]
            .as_array_mut()
            .expect("deps")
            .push(serde_json::json!({"pkg": to, "dep_kinds": [{"kind": null}]}));
    };
    add_edge(&mut metadata, &app, &adapters);
    let broken = violations(&metadata);
    assert!(
        broken
            .iter()
            .any(|v| v.starts_with("conduit-app must not depend on conduit-adapters")),
        "{broken:?}"
    );
    // Adapters that call a use case, or reach the HTTP framework through one.
    add_edge(&mut metadata, &adapters, &app);
    let broken = violations(&metadata);
    assert!(
        broken
            .iter()
            .any(|v| v.starts_with("conduit-adapters must not depend on conduit-app")),
        "{broken:?}"
    );
    let api = id_of(&metadata, "conduit-api");
    add_edge(&mut metadata, &app, &api);
    let broken = violations(&metadata);
    assert!(
        broken.iter().any(|v| v.starts_with(
            "conduit-adapters must not depend on poem (via conduit-adapters -> conduit-app -> conduit-api"
        )),
        "{broken:?}"
    );
    // The HTTP layer naming an adapter, and reaching sea-orm through it.
    add_edge(&mut metadata, &api, &adapters);
    let broken = violations(&metadata);
    for expected in [
        "conduit-api must not depend on conduit-adapters",
        "conduit-api must not depend on sea-orm (via conduit-api -> conduit-adapters",
        "conduit-api must not depend on fred (via conduit-api -> conduit-adapters",
    ] {
        assert!(
            broken.iter().any(|v| v.starts_with(expected)),
            "{expected}: {broken:?}"
        );
    }
    // The server using sea-orm or fred itself rather than through the adapters.
    let server = id_of(&metadata, "conduit-server");
    for storage in ["sea-orm", "fred"] {
        let client = id_of(&metadata, storage);
        add_edge(&mut metadata, &server, &client);
        let broken = violations(&metadata);
        let expected = format!("conduit-server must not depend directly on {storage}");
        assert!(broken.contains(&expected), "{expected}: {broken:?}");
    }
    // The domain now reaches sea-orm through app -> adapters.
    add_edge(&mut metadata, &domain, &app);
    let broken = violations(&metadata);
    assert!(
        broken
            .iter()
            .any(|v| v.starts_with("conduit-domain must not depend on sea-orm")),
        "{broken:?}"
    );
}
