//! Every response the HTTP tests receive is checked against `/openapi.json`:
//! the route (from the route table), the status (it must be listed for that
//! operation), the content type and the body (against the schema of that
//! route and status). An undocumented status, content type or field shape
//! fails the test that received it.
//!
//! The schemas are the JSON Schema (2020-12) subset utoipa writes for
//! OpenAPI 3.1: `$ref`, `type` (one or a list), `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `oneOf`, `anyOf`,
//! `allOf`, `minimum`, `maximum`. Any other keyword that constrains values is
//! an error, so the validator never silently skips a rule.

use carefill_api::handlers::{schemas, table};
use carefill_api::http::Method;
use carefill_api::http::openapi::{document, schema_map};
use carefill_api::http::router::find;
use serde_json::Value;
use std::sync::LazyLock;

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| document(table(), schema_map(schemas()).expect("schemas")));

/// Keywords that describe but do not constrain.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "format",
    "default",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "discriminator",
    "contentMediaType",
    "$schema",
];

/// Checks one response; panics with what is wrong.
pub fn assert_documented(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) {
    // The console's static assets are served beside the API, not part of it.
    let bare = path.split('?').next().unwrap_or(path);
    if bare == "/" || bare == "/console" || bare.starts_with("/console/") {
        return;
    }
    if let Err(e) = check(method, path, status, content_type, body) {
        panic!(
            "{method} {path} -> {status}: {e}\nbody: {}",
            String::from_utf8_lossy(body)
        );
    }
}

/// Checks one response against the document.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let path = path.split('?').next().unwrap_or(path);
    let doc = &*DOCUMENT;
    let wire = warp::http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let response = match find(table(), Method::from_http(&wire), path) {
        Ok((route, _)) => {
            let op = &doc["paths"][route.path][route.method.lower()];
            let r = op["responses"]
                .get(status.to_string())
                .ok_or_else(|| format!("status {status} is not documented for {}", route.id))?;
            resolve(doc, r)?
        }
        // No operation: the router's own 404 / 405.
        Err(_) if status == 404 || status == 405 => {
            let r = doc
                .pointer(&format!("/components/responses/E{status}"))
                .ok_or("no common error response")?;
            resolve(doc, r)?
        }
        Err(e) => return Err(format!("no route, yet status {status}: {e}")),
    };
    let media = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .ok_or("no content type")?;
    let schema = response["content"]
        .get(&media)
        .map(|c| &c["schema"])
        .ok_or_else(|| format!("content type {media} is not documented"))?;
    let value: Value = if media.starts_with("text/") {
        Value::String(String::from_utf8(body.to_vec()).map_err(|e| e.to_string())?)
    } else {
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?
    };
    validate(doc, schema, &value, "$")
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> Result<&'a Value, String> {
    match v.get("$ref").and_then(Value::as_str) {
        None => Ok(v),
        Some(r) => {
            let target = r
                .strip_prefix('#')
                .and_then(|p| doc.pointer(p))
                .ok_or_else(|| format!("dangling $ref {r}"))?;
            resolve(doc, target)
        }
    }
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// Validates `v` (at JSON path `at`) against `schema`.
pub fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: nothing is allowed here")),
        s => s,
    };
    let obj = schema
        .as_object()
        .ok_or_else(|| format!("{at}: schema is not an object"))?;
    for (key, rule) in obj {
        match key.as_str() {
            "$ref" => validate(doc, resolve(doc, schema)?, v, at)?,
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => return Err(format!("{at}: bad type keyword")),
                };
                if !types.iter().any(|t| type_matches(t, v)) {
                    return Err(format!("{at}: {v} is not of type {}", types.join(" | ")));
                }
            }
            "nullable" => {}
            "properties" => {
                if let (Some(props), Some(map)) = (rule.as_object(), v.as_object()) {
                    for (name, s) in props {
                        if let Some(field) = map.get(name) {
                            validate(doc, s, field, &format!("{at}.{name}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Some(map) = v.as_object() {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !map.contains_key(name) {
                            return Err(format!("{at}: missing required field {name}"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(map) = v.as_object() {
                    let known = obj.get("properties").and_then(Value::as_object);
                    for (name, field) in map {
                        if known.is_some_and(|k| k.contains_key(name)) {
                            continue;
                        }
                        validate(doc, rule, field, &format!("{at}.{name}"))
                            .map_err(|e| format!("{e} (field not in the schema)"))?;
                    }
                }
            }
            "items" => {
                if let Some(items) = v.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        validate(doc, rule, item, &format!("{at}[{i}]"))?;
                    }
                }
            }
            "prefixItems" => {
                if let Some(items) = v.as_array() {
                    for (i, (s, item)) in
                        rule.as_array().into_iter().flatten().zip(items).enumerate()
                    {
                        validate(doc, s, item, &format!("{at}[{i}]"))?;
                    }
                }
            }
            "propertyNames" => {
                if let Some(map) = v.as_object() {
                    for name in map.keys() {
                        validate(
                            doc,
                            rule,
                            &Value::String(name.clone()),
                            &format!("{at}.{name}"),
                        )?;
                    }
                }
            }
            "maxItems" | "minItems" => {
                if let (Some(n), Some(items)) = (rule.as_u64(), v.as_array()) {
                    let len = items.len() as u64;
                    if (key == "maxItems" && len > n) || (key == "minItems" && len < n) {
                        return Err(format!("{at}: {len} items breaks {key} {n}"));
                    }
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|e| e.contains(v)) {
                    return Err(format!("{at}: {v} is not one of {rule}"));
                }
            }
            "const" => {
                if rule != v {
                    return Err(format!("{at}: {v} is not {rule}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(bound), Some(x)) = (rule.as_f64(), v.as_f64())
                    && ((key == "minimum" && x < bound) || (key == "maximum" && x > bound))
                {
                    return Err(format!("{at}: {x} breaks {key} {bound}"));
                }
            }
            "allOf" => {
                // Each branch (e.g. a tagged enum's tag and its variant's fields)
                // sees only part of the object: its `additionalProperties` would
                // refuse the other branches' fields, so it is checked against
                // the union of every branch's properties instead.
                let mut known = serde_json::Map::new();
                let mut closed = false;
                for s in rule.as_array().into_iter().flatten() {
                    let mut s = resolve(doc, s)?.clone();
                    if let Some(o) = s.as_object_mut() {
                        closed |= o.remove("additionalProperties") == Some(Value::Bool(false));
                        if let Some(p) = o.get("properties").and_then(Value::as_object) {
                            known.extend(p.clone());
                        }
                    }
                    validate(doc, &s, v, at)?;
                }
                if let (true, Some(map)) = (closed, v.as_object())
                    && let Some(extra) = map.keys().find(|k| !known.contains_key(*k))
                {
                    return Err(format!("{at}.{extra}: field not in the schema"));
                }
            }
            "oneOf" | "anyOf" => {
                let errors: Vec<String> = rule
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| validate(doc, s, v, at).err())
                    .collect();
                let options = rule.as_array().map_or(0, Vec::len);
                let passed = options - errors.len();
                if passed == 0 || (key == "oneOf" && passed > 1) {
                    return Err(format!(
                        "{at}: {passed} of {options} {key} options match ({})",
                        errors.join("; ")
                    ));
                }
            }
            other if ANNOTATIONS.contains(&other) => {}
            other => return Err(format!("{at}: the validator does not know keyword {other}")),
        }
    }
    Ok(())
}

#[test]
fn the_validator_rejects_what_the_schema_does_not_allow() {
    let doc = serde_json::json!({"components": {"schemas": {
        "P": {"type": "object", "required": ["a"], "additionalProperties": false,
              "properties": {"a": {"type": "integer", "minimum": 0},
                             "b": {"type": ["string", "null"]},
                             "c": {"oneOf": [{"type": "string", "enum": ["x"]}, {"type": "boolean"}]}}}}}});
    let p = serde_json::json!({"$ref": "#/components/schemas/P"});
    let ok = |v: Value| validate(&doc, &p, &v, "$");
    assert!(ok(serde_json::json!({"a": 1, "b": null, "c": "x"})).is_ok());
    assert!(ok(serde_json::json!({"a": 1, "c": true})).is_ok());
    assert!(ok(serde_json::json!({"b": "s"})).is_err(), "missing a");
    assert!(ok(serde_json::json!({"a": -1})).is_err(), "minimum");
    assert!(ok(serde_json::json!({"a": 1.5})).is_err(), "integer");
    assert!(
        ok(serde_json::json!({"a": 1, "d": 0})).is_err(),
        "unknown field"
    );
    assert!(ok(serde_json::json!({"a": 1, "c": "y"})).is_err(), "enum");
    assert!(
        ok(serde_json::json!({"a": 1, "b": 3})).is_err(),
        "type list"
    );
}

#[test]
fn an_undocumented_status_or_content_type_fails() {
    let problem =
        br#"{"type":"t","title":"Not Found","status":404,"code":"not_found","detail":"d"}"#;
    assert!(
        check(
            "GET",
            "/health",
            200,
            Some("application/json"),
            br#"{"status":"ok","service":"carefill","version":"1","uptime_s":1}"#
        )
        .is_ok()
    );
    assert!(
        check(
            "GET",
            "/health",
            404,
            Some("application/problem+json"),
            problem
        )
        .is_err()
    );
    assert!(check("GET", "/health", 200, Some("text/html"), b"<p>").is_err());
    assert!(
        check(
            "GET",
            "/health",
            200,
            Some("application/json"),
            br#"{"status":1}"#
        )
        .is_err()
    );
    assert!(
        check(
            "GET",
            "/nowhere",
            404,
            Some("application/problem+json"),
            problem
        )
        .is_ok()
    );
}
