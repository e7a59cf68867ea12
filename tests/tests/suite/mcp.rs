//! MCP at `/mcp`, called with the SDK's own client (`rmcp`) over a real socket: the shop's
//! resources as tools named as arc names them, their input schemas the document's, and a
//! tool call a request like any other (401, 403 and 404 the same way, hidden fields never
//! shown, a tenant's rows its own). On both databases.

use arc_runtime::mcp::Mcp;
use arc_tests::{Backend, TestApp, on_each_backend, shop_app, shop_token};
use axum::http::Method;
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value, json};

on_each_backend!(
    the_tools_are_arcs_with_the_documents_schemas,
    a_tool_call_is_a_request_like_any_other,
    each_caller_is_listed_the_tools_they_may_call,
);

type Client = RunningService<RoleClient, ()>;

/// An MCP client of the app at `addr`, calling as `token` (`Bearer ..`), or anonymous.
async fn connect(addr: std::net::SocketAddr, token: Option<&str>) -> Client {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    if let Some(token) = token {
        config = config.auth_header(token.trim_start_matches("Bearer "));
    }
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("an MCP session")
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The structured content of a successful call.
fn ok(result: &CallToolResult) -> &Value {
    assert_eq!(result.is_error, Some(false), "{result:?}");
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

/// The status and code of a failed call.
fn refused(result: &CallToolResult) -> (u64, String) {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let envelope = result.structured_content.as_ref().expect("the envelope");
    (
        envelope["status"].as_u64().unwrap(),
        envelope["code"].as_str().unwrap().to_owned(),
    )
}

fn schema_of<'t>(tools: &'t [Tool], name: &str) -> &'t Map<String, Value> {
    &tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
        .input_schema
}

fn keys(object: &Value) -> Vec<String> {
    let mut keys: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn served(backend: Backend) -> (TestApp, std::net::SocketAddr) {
    let app = backend.app(|db| shop_app(db).mcp(Mcp::new())).await;
    let addr = arc_tests::ws::serve(&app.router).await;
    (app, addr)
}

async fn the_tools_are_arcs_with_the_documents_schemas(backend: Backend) {
    let (app, addr) = served(backend).await;
    let ada = connect(addr, Some(&shop_token("ada", "acme", &["admin"]))).await;
    let tools = ada.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for name in [
        "list_products",
        "get_product",
        "create_product",
        "update_product",
        "delete_product",
        "list_orders",
        "create_order",
        "cancel_order",
        "list_categories",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // Deleting orders is denied to everyone: no tool for it, whether or not the document
    // lists the route (which answers 403).
    let document = app.get("/_docs/openapi.json").await.body;
    assert!(!names.contains(&"delete_order"), "{names:?}");

    // The bodies' schemas are the document's.
    let components = &document["components"]["schemas"];
    let create = schema_of(&tools, "create_product");
    assert_eq!(
        keys(&create["properties"]),
        keys(&components["ProductCreate"]["properties"])
    );
    assert_eq!(
        create["properties"]["price"],
        components["ProductCreate"]["properties"]["price"]
    );
    assert_eq!(create["required"], components["ProductCreate"]["required"]);
    assert_eq!(create["additionalProperties"], false);
    let update = schema_of(&tools, "update_product");
    let mut expected = keys(&components["ProductPatch"]["properties"]);
    expected.push("id".to_owned());
    expected.sort();
    assert_eq!(keys(&update["properties"]), expected);
    assert_eq!(update["required"], json!(["id"]));
    let cancel = schema_of(&tools, "cancel_order");
    assert_eq!(keys(&cancel["properties"]), ["id", "reason"]);
    assert_eq!(cancel["required"], json!(["id", "reason"]));
    // The list takes the grammar's parameters; headers come with the MCP request.
    let list = schema_of(&tools, "list_products");
    for parameter in [
        "page",
        "limit",
        "sort",
        "search",
        "select",
        "price[gte]",
        "status[in]",
    ] {
        assert!(list["properties"].get(parameter).is_some(), "{parameter}");
    }
    assert!(list["properties"].get("x-organization-id").is_none());
    // A schema stands alone: every reference is to its own definitions.
    for tool in &tools {
        let text = serde_json::to_string(&tool.input_schema).unwrap();
        assert!(!text.contains("#/components/"), "{}: {text}", tool.name);
        if text.contains("#/$defs/") {
            assert!(tool.input_schema.contains_key("$defs"), "{}", tool.name);
        }
    }
    let annotations = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.annotations.clone())
            .unwrap()
    };
    assert_eq!(annotations("list_products").read_only_hint, Some(true));
    assert_eq!(annotations("delete_product").destructive_hint, Some(true));
    ada.cancel().await.unwrap();
    app.cleanup().await;
}

/// The names of the tools listed to the caller of `token` (anonymous: `None`).
async fn listed(addr: std::net::SocketAddr, token: Option<&str>) -> Vec<String> {
    let client = connect(addr, token).await;
    let tools = client.list_all_tools().await.expect("a list");
    client.cancel().await.unwrap();
    let mut names: Vec<String> = tools.into_iter().map(|t| t.name.into_owned()).collect();
    names.sort();
    names
}

async fn each_caller_is_listed_the_tools_they_may_call(backend: Backend) {
    let (app, addr) = served(backend).await;
    let check = |names: &[String], offered: &[&str], not: &[&str], who: &str| {
        for name in offered {
            assert!(
                names.iter().any(|n| n == name),
                "{who}: {name} in {names:?}"
            );
        }
        for name in not {
            assert!(
                !names.iter().any(|n| n == name),
                "{who}: no {name} in {names:?}"
            );
        }
    };
    // The shop's rules: products are read by members, created by editors, updated by
    // admins or by the editor who made them, deleted by admins; orders are placed and
    // cancelled by members, updated by admins, never deleted; categories are public to read
    // and written by the platform's admins (not an organization's).
    let admin = listed(addr, Some(&shop_token("ada", "acme", &["admin"]))).await;
    check(
        &admin,
        &["delete_product", "update_order", "cancel_order"],
        &["delete_order", "create_category"],
        "an organization's admin",
    );
    let root = listed(addr, Some(&arc_tests::platform_admin())).await;
    check(
        &root,
        &["create_category", "update_category", "delete_category"],
        &["delete_order"],
        "the platform's admin",
    );
    let member = listed(addr, Some(&shop_token("carl", "acme", &[]))).await;
    check(
        &member,
        &[
            "list_products",
            "get_product",
            "create_order",
            "cancel_order",
            "list_categories",
        ],
        &[
            "create_product",
            "update_product",
            "delete_product",
            "update_order",
            "create_category",
        ],
        "a member",
    );
    let editor = listed(addr, Some(&shop_token("eve", "acme", &["editor"]))).await;
    check(
        &editor,
        // Updating: only the products she made (a row rule), so the tool is hers.
        &["create_product", "update_product"],
        &["delete_product", "update_order"],
        "an editor",
    );
    // The document is public, so anyone lists: only what anyone may call.
    let anonymous = listed(addr, None).await;
    check(
        &anonymous,
        &["list_categories", "get_category"],
        &[
            "list_products",
            "create_order",
            "cancel_order",
            "create_category",
        ],
        "anonymous",
    );
    // A member is listed nothing a call would refuse: each listed read answers.
    let carl = connect(addr, Some(&shop_token("carl", "acme", &[]))).await;
    for name in member.iter().filter(|n| n.starts_with("list_")) {
        ok(&call(&carl, name, json!({})).await);
    }
    carl.cancel().await.unwrap();
    app.cleanup().await;
}

async fn a_tool_call_is_a_request_like_any_other(backend: Backend) {
    let (app, addr) = served(backend).await;
    let ada = connect(addr, Some(&shop_token("ada", "acme", &["admin"]))).await;
    let lamp = call(
        &ada,
        "create_product",
        json!({"name": "MCP lamp", "price": 5, "cost": 2, "status": "active", "internal_note": "secret"}),
    )
    .await;
    let lamp = ok(&lamp).clone();
    let id = lamp["id"].as_str().unwrap().to_owned();
    assert_eq!(lamp["cost"], 2, "admins read the cost: {lamp}");
    assert!(lamp.get("internal_note").is_none(), "hidden: {lamp}");
    // The row is there for HTTP callers too, and the write is on the audit trail.
    let read = app.get(&format!("/products/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["data"]["name"], "MCP lamp");

    let page = call(
        &ada,
        "list_products",
        json!({"name": "MCP lamp", "price[gte]": 1}),
    )
    .await;
    let page = ok(&page);
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["docs"][0]["id"], id.as_str());
    let changed = call(&ada, "update_product", json!({"id": id, "price": 7})).await;
    assert_eq!(ok(&changed)["price"], 7);

    // A plain member: the cost is not theirs to see, deleting not theirs to do.
    let max = connect(addr, Some(&shop_token("max", "acme", &["member"]))).await;
    let seen = call(&max, "get_product", json!({"id": id})).await;
    assert!(ok(&seen).get("cost").is_none(), "{seen:?}");
    let deleted = call(&max, "delete_product", json!({"id": id})).await;
    assert_eq!(refused(&deleted).0, 403);
    // Another organization's admin: not found, as over HTTP.
    let gwen = connect(addr, Some(&shop_token("gwen", "globex", &["admin"]))).await;
    let theirs = call(&gwen, "get_product", json!({"id": id})).await;
    assert_eq!(refused(&theirs), (404, "NOT_FOUND".to_owned()));
    let moved = call(&gwen, "update_product", json!({"id": id, "price": 1})).await;
    assert_eq!(refused(&moved).0, 404);
    let listed = call(&gwen, "list_products", json!({"name": "MCP lamp"})).await;
    assert_eq!(ok(&listed)["total"], 0);
    // Anonymous: 401.
    let nobody = connect(addr, None).await;
    let orders = call(&nobody, "list_orders", json!({})).await;
    assert_eq!(refused(&orders), (401, "UNAUTHORIZED".to_owned()));

    // Bad input is the API's 400, an id cannot leave its segment, an unknown tool is a
    // protocol error.
    let unknown = call(
        &ada,
        "create_product",
        json!({"name": "X", "price": 1, "colour": "red"}),
    )
    .await;
    assert_eq!(refused(&unknown).0, 400);
    let invalid = call(&ada, "create_product", json!({"name": "", "price": -1})).await;
    assert_eq!(refused(&invalid), (400, "VALIDATION_ERROR".to_owned()));
    let escaped = call(&ada, "get_product", json!({"id": "../orders"})).await;
    assert_eq!(refused(&escaped).0, 404);
    let missing = call(&ada, "get_product", json!({})).await;
    assert_eq!(refused(&missing).0, 400);
    let nothing = ada
        .call_tool(CallToolRequestParams::new("drop_tables"))
        .await;
    assert!(nothing.is_err(), "{nothing:?}");

    // An action, by its own tool.
    let carl = connect(addr, Some(&shop_token("carl", "acme", &["member"]))).await;
    let order = call(
        &carl,
        "create_order",
        json!({"product_id": id, "quantity": 1}),
    )
    .await;
    let order_id = ok(&order)["id"].as_str().unwrap().to_owned();
    let cancelled = call(
        &carl,
        "cancel_order",
        json!({"id": order_id, "reason": "changed my mind"}),
    )
    .await;
    assert_eq!(ok(&cancelled)["status"], "cancelled");
    let audit = app
        .send(
            Method::GET,
            &format!("/_audit?resource=order&documentId={order_id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(
        audit.body["total"].as_u64().unwrap() >= 2,
        "on the trail: {}",
        audit.body
    );

    // A call retried under one idempotency key is applied once, as over HTTP.
    let keyed = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
        .auth_header(shop_token("carl", "acme", &["member"]).trim_start_matches("Bearer "))
        .custom_headers(
            [(
                axum::http::HeaderName::from_static("idempotency-key"),
                axum::http::HeaderValue::from_static("mcp-order-1"),
            )]
            .into(),
        );
    let keyed = ().serve(StreamableHttpClientTransport::from_config(keyed)).await.unwrap();
    let place = json!({"product_id": id, "quantity": 2});
    let first = call(&keyed, "create_order", place.clone()).await;
    let again = call(&keyed, "create_order", place).await;
    assert_eq!(
        ok(&first)["id"],
        ok(&again)["id"],
        "replayed, not placed twice"
    );
    keyed.cancel().await.unwrap();

    let gone = call(&ada, "delete_product", json!({"id": id})).await;
    ok(&gone);
    for client in [ada, max, gwen, nobody, carl] {
        client.cancel().await.unwrap();
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_rate_limit_counts_mcp_requests_once() {
    use arc_runtime::client::ServiceClient;
    use arc_runtime::config::{KeyBy, RateLimit, Retry};
    let limit = RateLimit::new(6, std::time::Duration::from_secs(60), KeyBy::Ip);
    let app = TestApp::sqlite_with(|db| shop_app(db).rate_limit(limit).mcp(Mcp::new())).await;
    let addr = arc_tests::ws::serve(&app.router).await;
    let nobody = connect(addr, None).await;
    let mut outcomes = Vec::new();
    for _ in 0..8 {
        let call = nobody
            .call_tool(CallToolRequestParams::new("list_categories"))
            .await;
        outcomes.push(matches!(call, Ok(ref result) if result.is_error == Some(false)));
    }
    // The MCP requests (connecting took some) share the address's budget, each tool call
    // counted once: the calls go through, then are refused, and stay refused.
    let through = outcomes.iter().take_while(|ok| **ok).count();
    assert!((2..6).contains(&through), "{outcomes:?}");
    assert!(outcomes[through..].iter().all(|ok| !ok), "{outcomes:?}");
    // The same address over HTTP: out of budget too.
    let http = ServiceClient::builder("shop", format!("http://{addr}"))
        .retry(Retry {
            attempts: 1,
            ..Retry::default()
        })
        .build()
        .unwrap();
    let refused = http.get("/categories").send().await.unwrap_err();
    assert_eq!(refused.code(), Some("RATE_LIMITED"), "{refused}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_tool_call_takes_one_place_under_the_in_flight_limit() {
    let app = TestApp::sqlite_with(|db| shop_app(db).max_in_flight(1).mcp(Mcp::new())).await;
    let addr = arc_tests::ws::serve(&app.router).await;
    let nobody = connect(addr, None).await;
    let listed = call(&nobody, "list_categories", json!({})).await;
    ok(&listed);
    nobody.cancel().await.unwrap();
    app.cleanup().await;
}

#[tokio::test]
async fn tools_whose_call_names_its_organization_are_listed_to_callers_who_signed_in() {
    // Which organization a members or invitations call acts in is its `orgId` argument (an
    // organization's own routes: its `id`), not the caller's active one: an admin of
    // another organization than the active one may call them there, so the list cannot
    // decide them and shows them to every signed-in caller; the call decides.
    let app = TestApp::sqlite_with(|db| shop_app(db).organizations().mcp(Mcp::new())).await;
    let addr = arc_tests::ws::serve(&app.router).await;
    let org_tools = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|n| {
                n.contains("member") || n.contains("invitation") || n.ends_with("_organization")
            })
            .cloned()
            .collect()
    };
    let member = listed(addr, Some(&shop_token("carl", "acme", &[]))).await;
    let theirs = org_tools(&member);
    assert!(
        theirs.iter().any(|n| n == "update_organization") && theirs.len() > 3,
        "{member:?}"
    );
    let anonymous = listed(addr, None).await;
    assert_eq!(org_tools(&anonymous), Vec::<String>::new(), "{anonymous:?}");
    app.cleanup().await;
}

#[tokio::test]
async fn without_a_public_document_only_callers_who_signed_in_list_the_tools() {
    let app = TestApp::sqlite_with(|db| shop_app(db).docs(false).mcp(Mcp::new())).await;
    let addr = arc_tests::ws::serve(&app.router).await;
    let nobody = connect(addr, None).await;
    assert!(nobody.list_all_tools().await.is_err(), "anonymous: no list");
    let ada = connect(addr, Some(&shop_token("ada", "acme", &["admin"]))).await;
    assert!(!ada.list_all_tools().await.unwrap().is_empty());
    // A forged token is refused at the door, as on the API.
    let forged = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
        .auth_header("not-a-token");
    let refused = ().serve(StreamableHttpClientTransport::from_config(forged)).await;
    assert!(refused.is_err(), "a forged token opens no session");
    app.cleanup().await;
}

#[tokio::test]
async fn the_mcp_requests_conditions_are_not_the_tool_calls() {
    // `If-None-Match` on the MCP request is about that POST: passed on, it would make the
    // call's GET a body-less 304 whenever it names the answer's tag (`*` always does).
    let app = TestApp::sqlite_with(|db| shop_app(db).mcp(Mcp::new())).await;
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "list_categories", "arguments": {}}
    });
    let answer = app
        .send(
            Method::POST,
            "/mcp",
            Some(call),
            &[
                ("accept", "application/json, text/event-stream"),
                ("host", "127.0.0.1:3000"),
                ("if-none-match", "*"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = &answer.body["result"];
    assert_eq!(result["isError"], json!(false), "{}", answer.body);
    assert!(
        result["structuredContent"]["docs"].is_array(),
        "{}",
        answer.body
    );
    app.cleanup().await;
}

#[tokio::test]
async fn the_endpoint_answers_its_hosts_only() {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    });
    let accept = ("accept", "application/json, text/event-stream");
    let app = TestApp::sqlite_with(|db| shop_app(db).mcp(Mcp::new())).await;
    let evil = app
        .send(
            Method::POST,
            "/mcp",
            Some(initialize.clone()),
            &[accept, ("host", "evil.example.com")],
        )
        .await;
    assert!(
        evil.status.is_client_error(),
        "{} {}",
        evil.status,
        evil.body
    );
    let local = app
        .send(
            Method::POST,
            "/mcp",
            Some(initialize.clone()),
            &[accept, ("host", "127.0.0.1:3000")],
        )
        .await;
    assert_eq!(local.status, 200, "{}", local.body);
    app.cleanup().await;

    let app =
        TestApp::sqlite_with(|db| shop_app(db).mcp(Mcp::new().allowed_hosts(["api.example.com"])))
            .await;
    let public = app
        .send(
            Method::POST,
            "/mcp",
            Some(initialize.clone()),
            &[accept, ("host", "api.example.com")],
        )
        .await;
    assert_eq!(public.status, 200, "{}", public.body);
    let local = app
        .send(
            Method::POST,
            "/mcp",
            Some(initialize),
            &[accept, ("host", "localhost")],
        )
        .await;
    assert!(local.status.is_client_error(), "{}", local.status);
    app.cleanup().await;

    // Mounted twice, or at no path: the app does not start.
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let twice = shop_app(db.clone()).mcp(Mcp::new()).mcp(Mcp::new());
    assert!(twice.problems().iter().any(|p| p.contains("twice")));
    let nowhere = shop_app(db.clone()).mcp(Mcp::new().path("mcp"));
    assert!(nowhere.problems().iter().any(|p| p.contains("not a path")));
    let taken = shop_app(db.clone()).mcp(Mcp::new().path("/products"));
    assert!(
        taken
            .problems()
            .iter()
            .any(|p| p.contains("a route of the app already"))
    );
    let open = shop_app(db).mcp(Mcp::new().allowed_hosts(Vec::<String>::new()));
    assert!(
        open.problems()
            .iter()
            .any(|p| p.contains("allowed_hosts is empty"))
    );
}
