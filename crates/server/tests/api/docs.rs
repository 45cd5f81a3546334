//! The published contract: committed, served, a superset of RealWorld's, documented.

use std::path::{Path, PathBuf};

use conduit_api::openapi;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{reply, request_example, spawn_app};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

const REGENERATE: &str = "the committed document differs from the code: review the change, then run `cargo run -q -- docs` and commit docs/";

#[test]
fn committed_documents_match_the_code() {
    let document = conduit_server::docs::standalone_document();
    let committed = read(&workspace_root().join("docs/openapi.yaml"));
    assert!(
        committed == openapi::to_yaml(&document),
        "docs/openapi.yaml: {REGENERATE}"
    );
    let errors = read(&workspace_root().join("docs/errors.md"));
    assert!(
        errors == openapi::error_catalogue_markdown(),
        "docs/errors.md: {REGENERATE}"
    );
}

/// The bounds of a search are stated where integrators read about `q`, with the
/// domain's own numbers.
#[test]
fn the_search_parameter_states_its_bounds() {
    use conduit_domain::article::SearchQuery;
    let document = conduit_server::docs::standalone_document();
    let q = document["paths"]["/articles"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "q")
        .expect("q is documented");
    let text = q["description"].as_str().expect("described");
    let thousands = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    assert!(
        text.contains(&format!(
            "newest {} matching",
            thousands(SearchQuery::WINDOW)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("at most {} characters", SearchQuery::MAX)),
        "{text}"
    );
}

#[tokio::test]
async fn documents_and_docs_page_are_served() {
    let app = spawn_app().await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.address)).send();

    let json = reply(get("/openapi.json").await.expect("sent")).await;
    assert_eq!(
        json.body,
        conduit_server::docs::standalone_document(),
        "the served document is the published one"
    );

    let yaml = get("/openapi.yaml").await.expect("sent");
    assert!(
        yaml.headers()["content-type"]
            .to_str()
            .is_ok_and(|ct| ct.starts_with("application/yaml"))
    );
    let yaml: Value = serde_yaml::from_str(&yaml.text().await.expect("text")).expect("YAML");
    assert_eq!(yaml, json.body);

    let docs = get("/docs").await.expect("sent");
    assert_eq!(docs.status().as_u16(), 200);
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let html = docs.text().await.expect("text");
    assert!(html.contains("SwaggerUIBundle"), "Swagger UI is served");
    assert!(
        html.contains("validation_failed"),
        "the page embeds the published document"
    );
    assert!(
        csp.contains("'sha256-") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.starts_with("default-src 'none'"), "{csp}");

    // The API's own responses carry the strict policy and the other security headers.
    let api = get("/api/tags").await.expect("sent");
    assert!(
        api.headers()["content-security-policy"]
            .to_str()
            .is_ok_and(|v| v.starts_with("default-src 'none'"))
    );
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["x-frame-options"], "DENY");
    app.cleanup().await;
}

/// OWASP API9 (inventory): what the server answers is what the document describes.
/// Every documented operation is served; on a documented path, every other method is
/// 405; outside `/api`, exactly the operational routes the description lists answer; and
/// paths commonly probed for forgotten endpoints are 404.
#[tokio::test]
async fn every_served_route_is_in_the_document() {
    let app = spawn_app().await;
    let document = conduit_server::docs::standalone_document();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete = ["{slug}", "{username}", "{id}", "{provider}"]
            .into_iter()
            .fold(path.clone(), |path, param| path.replace(param, "x"));
        let url = format!("{}/api{concrete}", app.address);
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let documented = item.get(method.to_lowercase()).is_some();
            let answer = reply(
                app.client
                    .request(method.parse().expect("a method"), &url)
                    .send()
                    .await
                    .expect("sent"),
            )
            .await;
            if documented {
                operations += 1;
                assert!(
                    answer.status != StatusCode::METHOD_NOT_ALLOWED
                        && answer.body["code"] != "route_not_found",
                    "{method} {path} is documented but not served: {:?}",
                    answer.body
                );
            } else {
                assert_eq!(
                    answer.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is served but not documented: {:?}",
                    answer.body
                );
            }
        }
    }
    assert!(operations >= 29, "only {operations} operations");

    let description = document["info"]["description"].as_str().expect("text");
    for (path, _) in openapi::OPERATIONAL_ROUTES {
        assert!(description.contains(&format!("`{path}`")), "{path}");
        let answer = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
    }
    for probe in [
        "/",
        "/api",
        "/api/",
        "/admin",
        "/api/admin",
        "/metrics",
        "/api/metrics",
        "/debug",
        "/api/debug",
        "/status",
        "/health",
        "/actuator",
        "/.env",
        "/.git/config",
        "/swagger-ui",
        "/swagger.json",
        "/api/openapi.json",
        "/api/docs",
        "/api/v1/articles",
        "/v1/articles",
        "/api/users/1",
        "/api/user/1",
        "/api/sessions",
        "/api/api-keys/x/y",
        "/graphql",
        "/server-status",
    ] {
        let answer = reply(
            app.client
                .get(format!("{}{probe}", app.address))
                .send()
                .await
                .expect("sent"),
        )
        .await;
        assert!(
            matches!(answer.status.as_u16(), 404 | 405),
            "{probe} answers {}: {:?}",
            answer.status,
            answer.body
        );
    }
    app.cleanup().await;
}

/// Every request body example in the document passes validation when sent as it is, so
/// an integrator can start from any of them. (The examples are sent as one user, who
/// registers with the registration example first; a made-up token in an example may
/// still be refused, with 401.)
#[tokio::test]
async fn every_documented_request_example_is_accepted() {
    let app = spawn_app().await;
    let document = conduit_server::docs::standalone_document();
    let mut examples = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let Some(example) = request_example(&document, operation) else {
                continue;
            };
            assert!(!example.is_null(), "{method} {path}: no example");
            examples.push((method.to_uppercase(), path.clone(), example));
        }
    }
    // Registration first: it makes the user the others are sent as.
    examples.sort_by_key(|(method, path, _)| !(method == "POST" && path == "/users"));
    let mut token: Option<String> = None;
    let mut slug = None;
    for (method, path, example) in &examples {
        if path.contains("{slug}") && slug.is_none() {
            let owner = token.as_deref().expect("registered");
            slug = Some(app.article(owner, "Example target", &[]).await);
        }
        let concrete = path.replace("{slug}", slug.as_deref().unwrap_or("x"));
        let answer = app
            .call(
                method.parse().expect("a method"),
                &concrete,
                token.as_deref(),
                Some(example.clone()),
            )
            .await;
        if path == "/auth/oauth/link/confirm" {
            // A link code must be one issued moments ago to the caller's own link, which
            // no example can be: the example is read, and its code refused as unknown
            // (not as malformed), which is all an example can show.
            assert_eq!(answer.status.as_u16(), 422, "{:?}", answer.body);
            assert_eq!(
                answer.body["errors"],
                json!({"code": ["is unknown, already used, expired or not yours"]})
            );
            continue;
        }
        assert!(
            !matches!(answer.status.as_u16(), 400 | 413 | 415 | 422),
            "{method} {path}: its example is refused: {} {:?}",
            answer.status,
            answer.body
        );
        if path == "/users" {
            token = answer.body["user"]["token"].as_str().map(str::to_owned);
        }
    }
    assert!(examples.len() >= 9, "only {} examples", examples.len());
    app.cleanup().await;
}

#[test]
fn every_error_response_has_an_example_in_the_standard_shape() {
    let document = conduit_server::docs::standalone_document();
    let codes: Vec<&str> = conduit_api::error::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("methods") {
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            assert!(
                operation["description"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{method} {path} has no description"
            );
            for (status, response) in operation["responses"].as_object().expect("responses") {
                if status.as_str() < "400" {
                    continue;
                }
                for media in response["content"].as_object().expect("content").values() {
                    let example = &media["example"];
                    let code = example["code"].as_str().unwrap_or_default();
                    assert!(codes.contains(&code), "{method} {path} {status}: {example}");
                    assert!(
                        example["errors"].as_object().is_some_and(|e| !e.is_empty()),
                        "{method} {path} {status}"
                    );
                    let status_of_code = conduit_api::error::ErrorCode::ALL
                        .iter()
                        .find(|c| c.as_str() == code)
                        .map(|c| c.status().to_string());
                    assert_eq!(
                        status_of_code.as_deref(),
                        Some(status.as_str()),
                        "{method} {path}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} error responses checked");
}

// ---- superset of the RealWorld contract --------------------------------------------

fn contract_path() -> PathBuf {
    let candidates = [
        std::env::var_os("CONFORMANCE_DIR").map(PathBuf::from),
        Some(workspace_root().join("../shared/conformance/realworld")),
        Some(PathBuf::from("/work/shared/conformance/realworld")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|dir| dir.join("openapi.yml"))
        .find(|p| p.exists())
        .expect("the RealWorld contract (openapi.yml) is not found: set CONFORMANCE_DIR")
}

/// Follows `$ref`s (and poem's `allOf: [$ref, {description}]` wrappers) within `doc`.
fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    loop {
        if let Some(reference) = schema["$ref"].as_str() {
            let pointer = reference.trim_start_matches('#');
            schema = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling {reference}"));
        } else if let Some(first) = schema["allOf"].as_array().and_then(|all| all.first()) {
            schema = first;
        } else {
            return schema;
        }
    }
}

/// The non-null types a schema allows, and whether it allows null.
fn types(schema: &Value) -> (Vec<String>, bool) {
    let mut names: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    };
    let nullable = names.iter().any(|t| t == "null") || schema["nullable"] == true;
    names.retain(|t| t != "null");
    (names, nullable)
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Request,
    Response,
}

fn check_schema(
    contract: &Value,
    c: &Value,
    ours: &Value,
    o: &Value,
    at: &str,
    dir: Direction,
    problems: &mut Vec<String>,
) {
    let c = resolve(contract, c);
    let o = resolve(ours, o);
    let (c_types, c_null) = types(c);
    let (o_types, o_null) = types(o);
    if !c_types.is_empty() && c_types != o_types {
        problems.push(format!(
            "{at}: type {c_types:?} in the contract, {o_types:?} in ours"
        ));
        return;
    }
    if c_null && !o_null {
        problems.push(format!("{at}: the contract allows null, ours does not"));
    }
    if let Some(c_props) = c["properties"].as_object() {
        let required = |s: &Value| -> Vec<String> {
            s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let (c_req, o_req) = (required(c), required(o));
        for (name, c_prop) in c_props {
            match o["properties"].get(name) {
                None => problems.push(format!("{at}.{name}: missing in ours")),
                Some(o_prop) => check_schema(
                    contract,
                    c_prop,
                    ours,
                    o_prop,
                    &format!("{at}.{name}"),
                    dir,
                    problems,
                ),
            }
        }
        match dir {
            Direction::Response => {
                for name in c_req.iter().filter(|n| !o_req.contains(n)) {
                    problems.push(format!(
                        "{at}.{name}: required in the contract's response, optional in ours"
                    ));
                }
            }
            Direction::Request => {
                for name in o_req.iter().filter(|n| !c_req.contains(n)) {
                    problems.push(format!("{at}.{name}: we require it, the contract does not"));
                }
            }
        }
    }
    if c.get("items").is_some() {
        check_schema(
            contract,
            &c["items"],
            ours,
            &o["items"],
            &format!("{at}[]"),
            dir,
            problems,
        );
    }
    if c["additionalProperties"].is_object() {
        check_schema(
            contract,
            &c["additionalProperties"],
            ours,
            &o["additionalProperties"],
            &format!("{at}{{}}"),
            dir,
            problems,
        );
    }
}

fn json_schema(doc: &Value, holder: &Value) -> Option<Value> {
    let holder = resolve(doc, holder);
    holder["content"]
        .as_object()?
        .iter()
        .find(|(media, _)| media.starts_with("application/json"))
        .map(|(_, m)| m["schema"].clone())
}

#[test]
fn document_is_a_superset_of_the_realworld_contract() {
    let contract: Value = serde_yaml::from_str(&read(&contract_path())).expect("contract YAML");
    let ours = conduit_server::docs::standalone_document();
    let mut problems = Vec::new();
    let mut operations = 0;
    for (path, item) in contract["paths"].as_object().expect("paths") {
        for (method, c_op) in item.as_object().expect("methods") {
            let at = format!("{} {path}", method.to_uppercase());
            let Some(o_op) = ours["paths"][path].get(method) else {
                problems.push(format!("{at}: missing"));
                continue;
            };
            operations += 1;
            for c_param in c_op["parameters"].as_array().into_iter().flatten() {
                let c_param = resolve(&contract, c_param);
                let found = o_op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == c_param["name"] && p["in"] == c_param["in"]);
                match found {
                    None => problems.push(format!("{at}: parameter {} missing", c_param["name"])),
                    Some(o_param) => check_schema(
                        &contract,
                        &c_param["schema"],
                        &ours,
                        &o_param["schema"],
                        &format!("{at} ?{}", c_param["name"].as_str().unwrap_or_default()),
                        Direction::Request,
                        &mut problems,
                    ),
                }
            }
            if let Some(c_body) = c_op
                .get("requestBody")
                .and_then(|b| json_schema(&contract, b))
            {
                match o_op.get("requestBody").and_then(|b| json_schema(&ours, b)) {
                    None => problems.push(format!("{at}: request body missing")),
                    Some(o_body) => check_schema(
                        &contract,
                        &c_body,
                        &ours,
                        &o_body,
                        &format!("{at} body"),
                        Direction::Request,
                        &mut problems,
                    ),
                }
            }
            if c_op.get("security").is_some()
                && o_op["security"].as_array().is_none_or(|s| s.is_empty())
            {
                problems.push(format!(
                    "{at}: the contract requires a token, ours documents none"
                ));
            }
            for (status, c_resp) in c_op["responses"].as_object().expect("responses") {
                let Some(o_resp) = o_op["responses"].get(status) else {
                    problems.push(format!("{at}: status {status} missing"));
                    continue;
                };
                if let Some(c_schema) = json_schema(&contract, c_resp) {
                    match json_schema(&ours, o_resp) {
                        None => problems.push(format!("{at} {status}: no JSON body in ours")),
                        Some(o_schema) => check_schema(
                            &contract,
                            &c_schema,
                            &ours,
                            &o_schema,
                            &format!("{at} {status}"),
                            Direction::Response,
                            &mut problems,
                        ),
                    }
                }
            }
        }
    }
    assert_eq!(operations, 19, "every contract operation was compared");
    assert!(
        problems.is_empty(),
        "not a superset of the RealWorld contract:\n{}",
        problems.join("\n")
    );
}

/// The comparison itself can fail: a contract with an extra path, a stricter type and an
/// extra required response field is reported.
#[test]
fn the_superset_check_reports_differences() {
    let contract: Value = serde_json::json!({
        "components": {"schemas": {"X": {"type": "object", "required": ["a"], "properties": {"a": {"type": ["string", "null"]}, "b": {"type": "integer"}}}}}
    });
    let ours: Value = serde_json::json!({
        "components": {"schemas": {"X": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}}}
    });
    let mut problems = Vec::new();
    let r = serde_json::json!({"$ref": "#/components/schemas/X"});
    check_schema(
        &contract,
        &r,
        &ours,
        &r,
        "X",
        Direction::Response,
        &mut problems,
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}
