//! A `tracing` span per request (method, route template, request id, W3C trace id, status,
//! latency), so every log line of a request carries its ids, and W3C `traceparent`
//! propagation: an incoming trace is continued, a new one started otherwise, and the answer
//! carries `traceparent` with this server's span. Code running for the request reads the
//! [`TraceContext`] ([`current`], a task-local) to pass it on to the services it calls.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

use super::request_id::hex;

/// The W3C trace-context header.
pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace a request belongs to, and this server's span in it: what a handler passes on
/// to the services it calls, as their `traceparent`.
///
/// ```
/// # async fn call_another_service() {
/// if let Some(trace) = arc_runtime::trace_context() {
///     let traceparent = trace.traceparent(); // "00-<trace id>-<this server's span>-01"
///     # let _ = traceparent;
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceContext {
    /// 16 bytes, never all zero.
    pub trace_id: u128,
    /// This server's span: 8 bytes, never zero.
    pub span_id: u64,
    /// The caller's span, when the request continued a trace.
    pub parent_id: Option<u64>,
    /// Whether the caller sampled the trace.
    pub sampled: bool,
}

impl TraceContext {
    /// Continues the trace of a `traceparent` value (version 00), or starts a new one when
    /// it is absent or malformed.
    pub(crate) fn continue_or_start(traceparent: Option<&[u8]>) -> TraceContext {
        let span_id = nonzero_u64();
        match traceparent.and_then(parse) {
            Some((trace_id, parent_id, sampled)) => TraceContext {
                trace_id,
                span_id,
                parent_id: Some(parent_id),
                sampled,
            },
            None => TraceContext {
                trace_id: (u128::from(nonzero_u64()) << 64) | u128::from(rand::random::<u64>()),
                span_id,
                parent_id: None,
                sampled: true,
            },
        }
    }

    /// The trace id as W3C writes it: 32 lowercase hex digits.
    #[must_use]
    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The `traceparent` value naming this server's span, for answers and outgoing calls.
    #[must_use]
    pub fn traceparent(&self) -> HeaderValue {
        // 00-<32 hex>-<16 hex>-<2 hex>, written without the formatter: this runs per request.
        let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-00";
        hex((self.trace_id >> 64) as u64, &mut buf[3..19]);
        hex(self.trace_id as u64, &mut buf[19..35]);
        hex(self.span_id, &mut buf[36..52]);
        hex(u64::from(self.sampled), &mut buf[53..55]);
        HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("00"))
    }
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// The trace of the request being handled on this task, if any (events, audit entries and
/// outgoing calls carry its id). `None` outside a request's task.
#[must_use]
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|context| *context).ok()
}

/// Runs `fut` with `context` as [`current`] (tokio's scope itself: no async wrapper around
/// it, which would be one more copy of the request's future).
pub(crate) fn scope<F: Future>(
    context: TraceContext,
    fut: F,
) -> tokio::task::futures::TaskLocalFuture<TraceContext, F> {
    CURRENT.scope(context, fut)
}

fn nonzero_u64() -> u64 {
    rand::random::<u64>().max(1)
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero.
fn parse(value: &[u8]) -> Option<(u128, u64, bool)> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let mut parts = text.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if version != "00"
        || parts.next().is_some()
        || !hex(trace, 32)
        || !hex(parent, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok().filter(|t| *t != 0)?;
    let parent = u64::from_str_radix(parent, 16).ok().filter(|p| *p != 0)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id, parent, flags & 1 == 1))
}

/// Starts a request's trace: continues or starts the trace context (to put in scope with
/// [`scope`]) and opens its span, to instrument the rest of the request with. With an
/// OpenTelemetry exporter installed, the span is exported under the context's ids.
pub(crate) fn begin(req: &Request) -> (TraceContext, tracing::Span) {
    #[allow(unused_mut)] // set by the exporter when there is one
    let mut context =
        TraceContext::continue_or_start(req.headers().get(&TRACEPARENT).map(|v| v.as_bytes()));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    let request_id = req
        .headers()
        .get(&super::request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        method = %req.method(),
        route = %route,
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    if !span.is_disabled() {
        #[cfg(feature = "otlp")]
        crate::telemetry::otlp::adopt(&span, &mut context);
        span.record("trace_id", format_args!("{:032x}", context.trace_id));
    }
    (context, span)
}

/// Ends a request's trace: records status and latency on its span and answers with
/// `traceparent`.
pub(crate) fn finish(
    span: &tracing::Span,
    context: &TraceContext,
    start: Instant,
    response: &mut Response,
) {
    if !span.is_disabled() {
        span.record("status", i64::from(response.status().as_u16()));
        span.record("latency_ms", start.elapsed().as_secs_f64() * 1e3);
        span.in_scope(|| tracing::info!("request finished"));
    }
    response
        .headers_mut()
        .insert(TRACEPARENT, context.traceparent());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trip_and_hostile_values() {
        let given = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::continue_or_start(Some(given));
        assert_eq!(ctx.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert!(ctx.sampled);
        assert_ne!(ctx.span_id, 0x00f067aa0ba902b7, "a span of our own");
        let out = ctx.traceparent();
        let out = out.to_str().unwrap();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(out.ends_with("-01"));
        for bad in [
            &b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"garbage",
            b"",
        ] {
            let fresh = TraceContext::continue_or_start(Some(bad));
            assert_ne!(fresh.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
            assert_ne!(fresh.trace_id, 0);
        }
    }
}
