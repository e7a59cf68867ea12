//! The OpenAPI document as a contract every black-box test checks: each answer a [`TestApp`]
//! receives must be one its app's document allows, its status documented for the operation
//! and its JSON body valid against the documented schema (by `boon`, a JSON Schema 2020-12
//! validator). Requests to paths or methods the document does not have (the router's own 404
//! and 405) are not the document's to describe and are left alone.
//!
//! [`TestApp`]: crate::TestApp

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{Method, StatusCode};
use serde_json::Value;

/// Where the document is added to the validator.
const BASE: &str = "urn:arc:openapi";

/// An app's document, compiled on demand into schemas per answer.
pub struct Contract {
    doc: Value,
    /// `(path template, method)` of every operation, most literal templates first.
    operations: Vec<(Vec<String>, String)>,
    compiled: Mutex<Compiled>,
}

struct Compiled {
    compiler: boon::Compiler,
    schemas: boon::Schemas,
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
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler
            .add_resource(BASE, doc.clone())
            .expect("the document is a JSON value");
        Contract {
            doc,
            operations,
            compiled: Mutex::new(Compiled {
                compiler,
                schemas: boon::Schemas::new(),
                by_pointer: HashMap::new(),
            }),
        }
    }

    /// The documented path template `path` (without its query) matches, for `method`.
    fn operation(&self, method: &Method, path: &str) -> Option<String> {
        let method = method.as_str().to_ascii_lowercase();
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .find(|(template, m)| {
                *m == method
                    && template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| {
                        t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                    })
            })
            .map(|(template, _)| {
                format!("/paths/{}/{method}", escape(&template.join("/")))
            })
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
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        let Compiled {
            compiler,
            schemas,
            by_pointer,
        } = &mut *compiled;
        let index = match by_pointer.get(&schema) {
            Some(index) => *index,
            None => {
                let index = compiler
                    .compile(&format!("{BASE}#{schema}"), schemas)
                    .unwrap_or_else(|e| panic!("the document's schema at {schema}: {e:#}"));
                by_pointer.insert(schema.clone(), index);
                index
            }
        };
        schemas.validate(body, index).err().map(|e| {
            format!("{method} {uri} answered {code} with a body the document does not allow:\n{e:#}\nbody: {body}")
        })
    }
}
