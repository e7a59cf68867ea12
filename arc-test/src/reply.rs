//! [`Reply`]: an answer, with the contract's assertions.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// An answer: its status, headers and JSON body (`Null` when empty or not JSON). The
/// assertions return the reply, so they chain.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Value,
    /// `METHOD uri`, for the assertions' messages.
    pub(crate) request: String,
}

impl Reply {
    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The envelope's `data` (`Null` without one).
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// A list's rows (`docs`); a panic when the answer is no list (a 401 is no empty list).
    #[track_caller]
    pub fn docs(&self) -> &[Value] {
        match self.body["docs"].as_array() {
            Some(docs) => docs,
            None => panic!(
                "{} answered {} without a list: {}",
                self.request, self.status, self.body
            ),
        }
    }

    /// The id of the row in `data`; a panic showing the body when there is none.
    #[track_caller]
    pub fn id(&self) -> String {
        match &self.data()["id"] {
            Value::String(id) => id.clone(),
            Value::Number(n) => n.to_string(),
            _ => panic!("{}: no id in {}", self.request, self.body),
        }
    }

    /// Asserts the status.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{} answered {}: {}",
            self.request,
            self.status,
            self.body
        );
        self
    }

    /// Asserts a success: a 2xx status and `"success": true`.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status.is_success() && self.body["success"] == true,
            "{} answered {}, not a success: {}",
            self.request,
            self.status,
            self.body
        );
        self
    }

    /// Asserts the contract's error envelope with `status` and `code`: `"success": false`,
    /// the code, a message, the request id and the time (the framework sends both on every
    /// error it answers).
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        let body = &self.body;
        let envelope = body["success"] == false
            && body["code"] == code
            && body["error"].is_string()
            && body["requestId"].is_string()
            && body["timestamp"].is_string();
        assert!(
            envelope,
            "{} answered {status} without the error envelope of `{code}`: {body}",
            self.request
        );
        self
    }

    /// Asserts a success (see [`Reply::assert_ok`]) in which no object anywhere has the
    /// member `field` (a hidden field, one the caller's role does not see): an error or an
    /// empty body shows nothing, and proves nothing.
    #[track_caller]
    pub fn assert_absent(&self, field: &str) -> &Self {
        self.assert_ok();
        fn find<'a>(value: &'a Value, field: &str, path: &mut String) -> Option<&'a Value> {
            match value {
                Value::Object(map) => {
                    if let Some(found) = map.get(field) {
                        path.push('.');
                        path.push_str(field);
                        return Some(found);
                    }
                    map.iter().find_map(|(k, v)| {
                        let len = path.len();
                        path.push('.');
                        path.push_str(k);
                        let found = find(v, field, path);
                        if found.is_none() {
                            path.truncate(len);
                        }
                        found
                    })
                }
                Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let found = find(v, field, path);
                    if found.is_none() {
                        path.truncate(len);
                    }
                    found
                }),
                _ => None,
            }
        }
        let mut path = String::from("body");
        if let Some(found) = find(&self.body, field, &mut path) {
            panic!(
                "{}: `{field}` is shown ({path} = {found}), though it should be absent",
                self.request
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(status: u16, body: Value) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body,
            request: "GET /things".to_owned(),
        }
    }

    #[test]
    fn assertions_pass_on_what_they_promise() {
        let ok = reply(
            200,
            json!({ "success": true, "data": { "id": "a", "name": "x" } }),
        );
        ok.assert_status(200).assert_ok().assert_absent("cost");
        assert_eq!(ok.id(), "a");
        let error = reply(
            403,
            json!({ "success": false, "code": "FORBIDDEN", "error": "no",
                    "requestId": "r", "timestamp": "t" }),
        );
        error.assert_error(403, "FORBIDDEN");
    }

    #[test]
    #[should_panic(expected = "body.docs[1].secret = 2")]
    fn a_shown_field_is_named_where_it_is() {
        reply(
            200,
            json!({ "success": true, "docs": [{ "a": 1 }, { "secret": 2 }] }),
        )
        .assert_absent("secret");
    }

    #[test]
    #[should_panic(expected = "without the error envelope")]
    fn an_error_without_its_envelope_fails() {
        reply(404, json!({ "message": "nope" })).assert_error(404, "NOT_FOUND");
    }

    #[test]
    #[should_panic(expected = "without a list")]
    fn an_error_has_no_rows() {
        let _ = reply(401, json!({ "success": false })).docs();
    }

    #[test]
    #[should_panic(expected = "not a success")]
    fn a_field_is_not_absent_from_an_error() {
        reply(403, json!({ "success": false })).assert_absent("cost");
    }

    #[test]
    #[should_panic(expected = "not a success")]
    fn a_failure_is_no_success() {
        reply(200, json!({ "success": false })).assert_ok();
    }
}
