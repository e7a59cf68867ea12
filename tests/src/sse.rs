//! A Server-Sent Events client over an in-process router: open a stream, read its events
//! one by one with a deadline.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// One event of a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Value,
}

/// An open stream (or the answer that refused it).
pub struct SseStream {
    pub status: StatusCode,
    pub content_type: String,
    /// The refusal's JSON body, when the stream was not opened.
    pub error: Value,
    body: Option<Body>,
    buffer: String,
    /// Comment lines seen (heartbeats).
    pub comments: usize,
}

/// Opens `uri` on `router` with `headers`.
pub async fn open(router: &Router, uri: &str, headers: &[(&str, &str)]) -> SseStream {
    let mut req = Request::builder().uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("text/event-stream") {
        return SseStream {
            status,
            content_type,
            error: Value::Null,
            body: Some(res.into_body()),
            buffer: String::new(),
            comments: 0,
        };
    }
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    SseStream {
        status,
        content_type,
        error: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        body: None,
        buffer: String::new(),
        comments: 0,
    }
}

impl SseStream {
    /// The next event within `wait`; `None` when none came (or the stream ended).
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.parse_one() {
                return Some(event);
            }
            let body = self.body.as_mut()?;
            let frame = tokio::time::timeout_at(deadline, body.frame()).await.ok()?;
            match frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.buffer.push_str(&String::from_utf8_lossy(data));
                    }
                }
                _ => {
                    self.body = None;
                    return None;
                }
            }
        }
    }

    /// Every event that comes until `quiet` passes without one.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(event) = self.next(quiet).await {
            out.push(event);
        }
        out
    }

    /// Whether the server ended the stream.
    pub fn ended(&self) -> bool {
        self.body.is_none()
    }

    fn parse_one(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut event = SseEvent {
                id: None,
                event: None,
                data: Value::Null,
            };
            let mut data = String::new();
            let mut any = false;
            for line in block.lines().filter(|l| !l.is_empty()) {
                if line.starts_with(':') {
                    self.comments += 1;
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                any = true;
                match field {
                    "id" => event.id = Some(value.to_owned()),
                    "event" => event.event = Some(value.to_owned()),
                    "data" => data.push_str(value),
                    _ => {}
                }
            }
            if any {
                event.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Some(event);
            }
        }
    }
}
