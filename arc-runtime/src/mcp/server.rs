//! The MCP server: lists the tools the caller may call, and runs a call as the request it
//! stands for, through the app's own router with the caller's credentials.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, Request, header};
use http_body_util::BodyExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::tools::{Op, ToolSpec};

/// The headers of the MCP request a tool call does not pass on: the transport's own, and
/// the conditions of that POST (passed on, an `If-None-Match` would make a read's answer a
/// body-less 304). The rest go with it: credentials, the organization, `Host` (checked
/// already), and an `idempotency-key` (stateless, one MCP request is one tool call, so a
/// client retrying a call that timed out replays its write rather than repeating it).
const NOT_PASSED_ON: [&str; 12] = [
    "accept",
    "accept-encoding",
    "content-length",
    "content-type",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-event-id",
    "mcp-protocol-version",
    "mcp-session-id",
];

/// The longest answer of the API a tool call reads.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// The app's tools, shared by every MCP request.
#[derive(Clone)]
pub(crate) struct McpServer {
    shared: Arc<Shared>,
}

struct Shared {
    specs: Vec<ToolSpec>,
    listed: Vec<Tool>,
    info: InitializeResult,
    /// The app's router, `/mcp` left out: a call is a request like any other.
    app: Router,
    /// Whether callers who are not signed in may list the tools.
    public_list: bool,
}

impl McpServer {
    pub(crate) fn new(
        specs: Vec<ToolSpec>,
        app: Router,
        (title, version): (&str, &str),
        instructions: Option<&str>,
        public_list: bool,
    ) -> Self {
        let listed = specs.iter().map(listed).collect();
        let mut info = InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(title, version));
        if let Some(instructions) = instructions {
            info = info.with_instructions(instructions);
        }
        McpServer {
            shared: Arc::new(Shared {
                specs,
                listed,
                info,
                app,
                public_list,
            }),
        }
    }
}

/// What an agent sees of a tool.
fn listed(spec: &ToolSpec) -> Tool {
    let annotations = match spec.op {
        Op::List | Op::Get => ToolAnnotations::new().read_only(true),
        Op::Create => ToolAnnotations::new().read_only(false).destructive(false),
        Op::Update | Op::Delete => ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(true),
        Op::Action => ToolAnnotations::new().read_only(false).destructive(true),
    };
    let mut tool = Tool::new(
        spec.name.clone(),
        spec.description.clone(),
        spec.input_schema.clone(),
    );
    tool.annotations = Some(annotations.open_world(false));
    tool
}

impl McpServer {
    /// The tools `caller` may call, decided without running the app's code or reading the
    /// database (a list costs no more than a request, whoever asks it):
    ///
    /// - a tool whose rule refuses the caller whatever the app's `when(..)` checks answer
    ///   (401, 403, no organization) is not listed: an agent is not offered what would only
    ///   answer that;
    /// - one it could let in is listed, and its call decides: a row filter (an owner's)
    ///   narrows what a call reaches, a `when(..)` may still refuse it;
    /// - a tool whose call names its organization (`{orgId}`) is decided in that
    ///   organization, known only when it is made: listed to signed-in callers.
    fn callable(&self, caller: &crate::AuthContext) -> Vec<Tool> {
        let shared = &self.shared;
        shared
            .specs
            .iter()
            .zip(&shared.listed)
            .filter(|(spec, _)| match spec.rule() {
                None => false,
                Some(_) if spec.org_in_arguments() => caller.is_authenticated(),
                Some((_, rule)) => {
                    crate::crud::access::could_let_in(spec.meta, &rule, caller).is_ok()
                }
            })
            .map(|(_, tool)| tool.clone())
            .collect()
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> InitializeResult {
        self.shared.info.clone()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // The list says what the API is, as the OpenAPI document does: when the app keeps
        // its document to itself, only signed-in callers see it.
        let caller = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Arc<crate::AuthContext>>())
            .cloned()
            .unwrap_or_else(|| Arc::new(crate::AuthContext::anonymous()));
        if !self.shared.public_list && !caller.is_authenticated() {
            return Err(ErrorData::invalid_request(
                "sign in to list the tools",
                None,
            ));
        }
        Ok(ListToolsResult::with_all_items(self.callable(&caller)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(spec) = self.shared.specs.iter().find(|s| s.name == request.name) else {
            return Err(ErrorData::invalid_params(
                format!("no tool `{}`", request.name),
                None,
            ));
        };
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let arguments = request.arguments.unwrap_or_default();
        let request = match build(spec, arguments, parts) {
            Ok(request) => request,
            Err(message) => {
                return Ok(error(json!({
                    "status": 400,
                    "code": "BAD_REQUEST",
                    "error": message,
                }))
                .into());
            }
        };
        tracing::debug!(tool = %spec.name, method = %request.method(), uri = %request.uri(), "mcp tool call");
        Ok(run(&self.shared.app, spec, request).await.into())
    }
}

/// The request a call of `spec` with `arguments` stands for, with the MCP request's
/// credentials; or why there is none.
fn build(
    spec: &ToolSpec,
    mut arguments: Map<String, Value>,
    parts: Option<&axum::http::request::Parts>,
) -> Result<Request<Body>, String> {
    let mut path = spec.path.clone();
    for name in &spec.path_params {
        let value = match arguments.remove(name) {
            Some(Value::String(text)) if !text.is_empty() => text,
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(format!("`{name}` is required: a string")),
        };
        if crate::percent::dot_segment(&value) {
            return Err(format!("`{value}` is not a `{name}`"));
        }
        let mut encoded = String::new();
        crate::percent::encode(&value, &mut encoded);
        path = path.replace(&format!("{{{name}}}"), &encoded);
    }
    let body = if spec.op == Op::Action {
        if let Some(action) = &spec.action {
            arguments.insert("action".to_owned(), action.clone().into());
        }
        Some(Value::Object(arguments))
    } else if matches!(spec.op, Op::Create | Op::Update) {
        Some(Value::Object(arguments))
    } else {
        let mut query = String::new();
        for (name, value) in &arguments {
            let text = match value {
                Value::Null => continue,
                Value::String(text) => text.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            query.push(if query.is_empty() { '?' } else { '&' });
            crate::percent::encode(name, &mut query);
            query.push('=');
            crate::percent::encode(&text, &mut query);
        }
        path.push_str(&query);
        None
    };
    let mut request = Request::builder().method(spec.method.clone()).uri(&path);
    if let Some(parts) = parts {
        for (name, value) in &parts.headers {
            if !NOT_PASSED_ON.contains(&name.as_str()) && !hop_by_hop(name) {
                request = request.header(name, value);
            }
        }
        // The caller's address, for the app's own layers as on any request.
        if let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            request = request.extension(*peer);
        }
    }
    // The rate limit counted the MCP request: the call is that request, not another.
    request = request.extension(crate::plugins::rate_limit::Counted);
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    request
        .body(body)
        .map_err(|e| format!("not a request: {e}"))
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "te" | "trailer" | "transfer-encoding" | "upgrade" | "expect"
    )
}

/// Runs the request through the app; its answer as the tool's result: the list's page or
/// the row, or the error envelope with its status.
async fn run(app: &Router, spec: &ToolSpec, request: Request<Body>) -> CallToolResult {
    let Ok(response) = app.clone().oneshot(request).await;
    let status = response.status();
    let body = match http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::warn!(tool = %spec.name, error = %e, "mcp: the answer could not be read");
            return error(json!({
                "status": 500,
                "code": "INTERNAL_ERROR",
                "error": "the answer could not be read",
            }));
        }
    };
    let value: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({ "error": String::from_utf8_lossy(&body) }));
    if !status.is_success() {
        let mut envelope = match value {
            Value::Object(map) => map,
            other => Map::from_iter([("error".to_owned(), other)]),
        };
        envelope.remove("success");
        envelope.insert("status".to_owned(), status.as_u16().into());
        return error(Value::Object(envelope));
    }
    let result = match (spec.op, value) {
        (Op::List, Value::Object(mut page)) => {
            page.remove("success");
            Value::Object(page)
        }
        (_, Value::Object(mut answer)) => match answer.remove("data") {
            Some(Value::Object(row)) => Value::Object(row),
            Some(other) => json!({ "data": other }),
            None => Value::Object(answer),
        },
        (_, other) => json!({ "data": other }),
    };
    CallToolResult::structured(result)
}

fn error(envelope: Value) -> CallToolResult {
    CallToolResult::structured_error(envelope)
}
