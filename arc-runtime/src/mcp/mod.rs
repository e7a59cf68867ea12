//! MCP: the app's resources as tools for agents, at `/mcp` over streamable HTTP, through
//! the official SDK (`rmcp`).
//!
//! [`App::mcp`](crate::App::mcp) turns each resource operation into a tool named as arc
//! names them: `list_products`, `get_product`, `create_product`, `update_product`,
//! `delete_product`, and each action as `cancel_order`. A tool's input schema is made of
//! the operation's path and query parameters and its body's JSON Schema, the ones the
//! OpenAPI document gives. A call is a request like any other: it goes through the app's
//! router with the credentials of the MCP request (its `Authorization`, API key,
//! `x-organization-id`...), so authentication, permissions, field rules, the tenant scope,
//! rate limits and the audit trail apply as they do to HTTP callers. An error answer is a
//! tool error whose structured content is the contract's envelope with its `status`
//! (`{"status": 404, "code": "NOT_FOUND", ..}`); a success is the page (a list) or the row.
//!
//! `/mcp` itself sits behind the app's authentication and rate limit (a forged token is a
//! 401 there; each tool call counts once, as its MCP request), and lists the tools to
//! anyone only when the app serves its OpenAPI document (which says as much), to signed-in
//! callers otherwise. A caller is listed the tools their permissions could let them call
//! (a member who may not delete is not offered `delete_product`), decided without the
//! app's code or the database; the document still describes every route. An
//! `idempotency-key` of the MCP request goes with its call (its conditional headers do not):
//! one request is one call, so a client retrying a call that timed out replays its write.
//!
//! The server is stateless (each POST stands alone, so any instance answers it) and
//! answers JSON. It only accepts requests whose `Host` is one it is told
//! ([`Mcp::allowed_hosts`]; loopback by default), against DNS rebinding.
//!
//! ```no_run
//! # async fn run(app: arc_runtime::App) -> std::io::Result<()> {
//! use arc_runtime::mcp::Mcp;
//! let app = app.mcp(Mcp::new().allowed_hosts(["api.example.com"]));
//! app.serve("0.0.0.0:3000").await
//! # }
//! ```

mod server;
mod tools;

use axum::Router;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

use crate::resource::ResourceMeta;
use server::McpServer;

/// arc's path of the MCP endpoint.
pub const DEFAULT_PATH: &str = "/mcp";

/// The MCP endpoint's settings: [`App::mcp`](crate::App::mcp).
#[derive(Clone, Debug)]
#[must_use = "settings do nothing until the app is given them"]
pub struct Mcp {
    pub(crate) path: String,
    hosts: Hosts,
    only: Option<Vec<String>>,
    instructions: Option<String>,
}

#[derive(Clone, Debug)]
enum Hosts {
    Loopback,
    These(Vec<String>),
    Any,
}

impl Default for Mcp {
    fn default() -> Self {
        Self::new()
    }
}

impl Mcp {
    /// At `/mcp`, every resource's tools, for requests to a loopback host.
    pub fn new() -> Self {
        Mcp {
            path: DEFAULT_PATH.to_owned(),
            hosts: Hosts::Loopback,
            only: None,
            instructions: None,
        }
    }

    /// Serves it at `path` instead (it must start with `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Accepts requests whose `Host` is one of `hosts` (`api.example.com`, or with a port:
    /// `api.example.com:8443`) rather than loopback ones.
    pub fn allowed_hosts(mut self, hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.hosts = Hosts::These(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts any `Host` (behind a proxy that checks it).
    pub fn any_host(mut self) -> Self {
        self.hosts = Hosts::Any;
        self
    }

    /// Only the tools of these resources (by name: `"product"`).
    pub fn resources(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// What the server tells agents about the app when they connect.
    pub fn instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }
}

impl Mcp {
    /// What keeps these settings from serving: a path that is not a static one, an empty
    /// list of hosts (rmcp would read it as any host; [`Mcp::any_host`] says that).
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let path = &self.path;
        if !path.starts_with('/') || path.len() < 2 || path.contains(['{', '}', '*', '?', '#']) {
            problems.push(format!(
                "App::mcp: `{path}` is not a path (`/mcp`: a `/` and a static path)"
            ));
        }
        if matches!(&self.hosts, Hosts::These(hosts) if hosts.is_empty()) {
            problems
                .push("App::mcp: allowed_hosts is empty (any_host() accepts any Host)".to_owned());
        }
        problems
    }
}

/// The endpoint, ready to mount: what [`App::mcp`](crate::App::mcp) serves.
pub(crate) struct Endpoint {
    settings: Mcp,
    tools: Vec<tools::ToolSpec>,
    title: String,
    version: String,
    /// Whether anyone may list the tools: as the OpenAPI document, when the app serves it;
    /// signed-in callers only otherwise.
    public_list: bool,
}

impl Endpoint {
    /// The tools of `resources` in `document`, for the app `(title, version)`; listed to
    /// anyone when `public_list` (the app serves its document).
    pub(crate) fn new(
        settings: Mcp,
        document: &serde_json::Value,
        resources: &[&'static ResourceMeta],
        (title, version): (&str, &str),
        public_list: bool,
    ) -> Self {
        let tools = tools::tools(document, resources, settings.only.as_deref());
        tracing::debug!(tools = tools.len(), path = %settings.path, "mcp");
        Endpoint {
            settings,
            tools,
            title: title.to_owned(),
            version: version.to_owned(),
            public_list,
        }
    }

    /// The route serving it, calls going to `app`; bodies up to `body_limit` bytes.
    pub(crate) fn route(self, app: Router, body_limit: usize) -> Router {
        let server = McpServer::new(
            self.tools,
            app,
            (&self.title, &self.version),
            self.settings.instructions.as_deref(),
            self.public_list,
        );
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_max_request_body_bytes(body_limit);
        let config = match self.settings.hosts {
            Hosts::Loopback => config,
            Hosts::These(hosts) => config.with_allowed_hosts(hosts),
            Hosts::Any => config.disable_allowed_hosts(),
        };
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            LocalSessionManager::default().into(),
            config,
        );
        Router::new().route_service(&self.settings.path, service)
    }
}
