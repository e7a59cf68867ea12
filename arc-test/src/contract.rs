//! The OpenAPI document as a contract every black-box test checks: each answer a [`TestApp`]
//! receives must be one its app's document allows, its status documented for the operation
//! and its JSON body valid against the documented schema (by `boon`, a JSON Schema 2020-12
//! validator). Requests to paths or methods the document does not have (the router's own 404
//! and 405) are not the document's to describe and are left alone.
//!
//! [`TestApp`]: crate::TestApp

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::Value;

/// Where the document is added to the validator.
const BASE: &str = "urn:arc:openapi";

/// An app's document, compiled on demand into schemas per answer.
pub struct Contract {
    doc: Value,
    /// `(path template, method)` of every operation, most literal templates first.
    operations: Vec<(Vec<String>, String)>,
    schemas: boon::Schemas,
    /// The compiled schema of each answer's JSON body, by the schema's JSON pointer.
    by_pointer: HashMap<String, boon::SchemaIndex>,
}

/// JSON-pointer escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    /// The contract of `doc`, an OpenAPI 3.1 document.
    pub fn new(doc: Value) -> Contract {
        let mut operations: Vec<(Vec<String>, String)> = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .iter()
                    .flat_map(|(path, item)| {
                        let segments: Vec<String> = path.split('/').map(str::to_owned).collect();
                        item.as_object()
                            .into_iter()
                            .flat_map(|ops| ops.keys())
                            .map(move |method| (segments.clone(), method.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        // `/products/deleted` before `/products/{id}`: the more literal segments, the earlier.
        operations.sort_by_key(|(segments, _)| {
            std::cmp::Reverse(segments.iter().filter(|s| !s.starts_with('{')).count())
        });
        // Every answer's schema, compiled once (the compiler itself is not `Send`).
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler
            .add_resource(BASE, doc.clone())
            .expect("the document is a JSON value");
        let mut schemas = boon::Schemas::new();
        let mut by_pointer = HashMap::new();
        let mut pointers: Vec<String> = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                for (code, response) in op["responses"].as_object().into_iter().flatten() {
                    let pointer = match response.get("$ref").and_then(Value::as_str) {
                        Some(target) => target.trim_start_matches('#').to_owned(),
                        None => format!("/paths/{}/{method}/responses/{code}", escape(path)),
                    };
                    pointers.push(format!("{pointer}/content/application~1json/schema"));
                }
            }
        }
        for pointer in pointers {
            if by_pointer.contains_key(&pointer) || doc.pointer(&pointer).is_none() {
                continue;
            }
            let index = compiler
                .compile(&format!("{BASE}#{pointer}"), &mut schemas)
                .unwrap_or_else(|e| panic!("the document's schema at {pointer}: {e:#}"));
            by_pointer.insert(pointer, index);
        }
        Contract {
            doc,
            operations,
            schemas,
            by_pointer,
        }
    }

    /// The operation of `method` on the documented path template `path` (without its query)
    /// matches, as the router picks it: the most literal template first. `None` when that
    /// template has no such method (the router's 405) or no template matches (its 404).
    fn operation(&self, method: &Method, path: &str) -> Option<String> {
        let method = method.as_str().to_ascii_lowercase();
        let segments: Vec<&str> = path.split('/').collect();
        let (template, _) = self.operations.iter().find(|(template, _)| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| {
                    t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                })
        })?;
        let path = escape(&template.join("/"));
        self.doc
            .pointer(&format!("/paths/{path}/{method}"))
            .map(|_| format!("/paths/{path}/{method}"))
    }

    /// The value at `pointer`, following one `$ref` to a reusable response.
    fn at(&self, pointer: &str) -> Option<(String, &Value)> {
        let value = self.doc.pointer(pointer)?;
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => {
                let target = target.strip_prefix('#')?.to_owned();
                let value = self.doc.pointer(&target)?;
                Some((target, value))
            }
            None => Some((pointer.to_owned(), value)),
        }
    }

    /// What is wrong with answering `status` and `body` (JSON, or `None` when the answer is
    /// not JSON) to `method` `uri`; `None` when the document allows it or does not describe
    /// the route.
    pub fn check(
        &self,
        method: &Method,
        uri: &str,
        status: StatusCode,
        body: Option<&Value>,
    ) -> Option<String> {
        let path = uri.split(['?', '#']).next().unwrap_or(uri);
        let operation = self.operation(method, path)?;
        let responses = format!("{operation}/responses");
        let code = status.as_str();
        let found = self
            .at(&format!("{responses}/{code}"))
            .or_else(|| self.at(&format!("{responses}/default")));
        let Some((pointer, response)) = found else {
            let listed: Vec<String> = self
                .doc
                .pointer(&responses)
                .and_then(Value::as_object)
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            return Some(format!(
                "{method} {uri} answered {code}, which the document does not list (it lists {})",
                listed.join(", ")
            ));
        };
        response.pointer("/content/application~1json/schema")?;
        let Some(body) = body else {
            return Some(format!(
                "{method} {uri} answered {code} without a JSON body, documented as JSON"
            ));
        };
        let schema = format!("{pointer}/content/application~1json/schema");
        let index = *self.by_pointer.get(&schema)?;
        self.schemas.validate(body, index).err().map(|e| {
            format!("{method} {uri} answered {code} with a body the document does not allow:\n{e:#}\nbody: {body}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contract() -> Contract {
        Contract::new(json!({
            "openapi": "3.1.0",
            "paths": {
                "/things/{id}": { "get": { "responses": {
                    "200": { "content": { "application/json": { "schema": {
                        "type": "object", "required": ["id"],
                        "properties": { "id": { "type": "string" } },
                    } } } },
                    "404": { "$ref": "#/components/responses/NotFound" },
                } } },
                "/things/tree": { "get": { "responses": { "200": { "description": "ok" } } } },
            },
            "components": { "responses": { "NotFound": { "content": { "application/json": {
                "schema": { "type": "object", "required": ["code"] },
            } } } } },
        }))
    }

    #[test]
    fn a_documented_answer_passes_and_a_wrong_one_is_named() {
        let c = contract();
        let ok = json!({ "id": "a" });
        assert_eq!(
            c.check(&Method::GET, "/things/a?x=1", StatusCode::OK, Some(&ok)),
            None
        );
        let wrong = json!({ "id": 1 });
        let problem = c.check(&Method::GET, "/things/a", StatusCode::OK, Some(&wrong));
        assert!(problem.is_some_and(|p| p.contains("does not allow")));
        let problem = c.check(&Method::GET, "/things/a", StatusCode::CONFLICT, Some(&ok));
        assert!(problem.is_some_and(|p| p.contains("does not list")));
        let problem = c.check(&Method::GET, "/things/a", StatusCode::NOT_FOUND, Some(&ok));
        assert!(problem.is_some(), "a referenced response is checked too");
    }

    #[test]
    fn routes_the_document_does_not_have_are_the_routers_own() {
        let c = contract();
        // `/things/tree` is literal: a PUT there is the router's 405, not `/things/{id}`'s.
        assert_eq!(
            c.check(
                &Method::PUT,
                "/things/tree",
                StatusCode::METHOD_NOT_ALLOWED,
                None
            ),
            None
        );
        assert_eq!(
            c.check(&Method::GET, "/nowhere", StatusCode::NOT_FOUND, None),
            None
        );
    }
}
