//! The tools: each resource operation of the OpenAPI document as an MCP tool, named as arc
//! names them, its input schema made of the operation's parameters and body schema.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::Method;
use serde_json::{Map, Value, json};

use crate::action::Operation;
use crate::permissions::Rule;
use crate::resource::ResourceMeta;

/// The operations a resource's tools come from, by their `operationId` suffix.
const OPERATIONS: [Op; 6] = [
    Op::List,
    Op::Get,
    Op::Create,
    Op::Update,
    Op::Delete,
    Op::Action,
];

/// A resource operation a tool runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    List,
    Get,
    Create,
    Update,
    Delete,
    Action,
}

impl Op {
    /// The `operationId` suffix of the document (`product_list`).
    fn suffix(self) -> &'static str {
        match self {
            Op::List => "list",
            Op::Get => "get",
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Action => "action",
        }
    }

    /// Whether the tool's arguments other than path parameters go in the body.
    fn has_body(self) -> bool {
        matches!(self, Op::Create | Op::Update | Op::Action)
    }

    /// The resource operation it runs, for one that is not an action.
    fn operation(self) -> Option<Operation> {
        match self {
            Op::List => Some(Operation::List),
            Op::Get => Some(Operation::Get),
            Op::Create => Some(Operation::Create),
            Op::Update => Some(Operation::Update),
            Op::Delete => Some(Operation::Delete),
            Op::Action => None,
        }
    }
}

/// One tool: what an agent sees of it, and the request a call of it makes.
#[derive(Clone, Debug)]
pub(crate) struct ToolSpec {
    /// The resource it runs an operation of.
    pub meta: &'static ResourceMeta,
    pub name: String,
    pub description: String,
    pub input_schema: Arc<Map<String, Value>>,
    pub op: Op,
    pub method: Method,
    /// The path template (`/orders/{id}/action`), with the version prefix if any.
    pub path: String,
    /// The names of the path's parameters.
    pub path_params: Vec<String>,
    /// The action's name (`cancel`), for an action's tool.
    pub action: Option<String>,
}

impl ToolSpec {
    /// Whether a call names its organization in its arguments (`{orgId}`, or the `{id}` of
    /// an organization's own routes), as the access layer reads it from the path: which
    /// organization a call acts in is not known until it is made.
    pub(crate) fn org_in_arguments(&self) -> bool {
        use crate::resource::Resource;
        let named = |param: &str| self.path_params.iter().any(|p| p == param);
        named(arc_spec::names::ORG_PARAM)
            || (self.meta.name == crate::orgs::Organization::META.name && named("id"))
    }

    /// The rule a call is decided by, and the name it is asked under (`list`, `cancel`);
    /// `None` for an action the resource's permissions do not name (no call is let in).
    pub(crate) fn rule(&self) -> Option<(&'static str, Rule)> {
        match (self.op.operation(), &self.action) {
            (Some(operation), _) => Some((operation.name(), self.meta.permissions.rule(operation))),
            (None, Some(action)) => self
                .meta
                .permissions
                .actions
                .iter()
                .find(|(name, _)| name == action)
                .copied(),
            (None, None) => None,
        }
    }
}

/// The tools of `resources` (their names; all when `None`) in `document`.
pub(crate) fn tools(
    document: &Value,
    resources: &[&'static ResourceMeta],
    only: Option<&[String]>,
) -> Vec<ToolSpec> {
    let mut tools = Vec::new();
    for meta in resources {
        if only.is_some_and(|only| !only.iter().any(|name| name == meta.name)) {
            continue;
        }
        for op in OPERATIONS {
            let id = format!("{}_{}", meta.name, op.suffix());
            let Some((method, path, operation)) = find(document, &id) else {
                continue;
            };
            if op == Op::Action {
                tools.extend(actions(document, meta, &method, &path, operation));
            } else {
                tools.push(tool(
                    document, meta, op, method, path, operation, None, None,
                ));
            }
        }
    }
    // Names are unique in MCP: an action named as an operation (`delete` on orders) or two
    // resources named alike would hide a tool behind another.
    let mut seen = BTreeSet::new();
    tools.retain(|tool| {
        let first = seen.insert(tool.name.clone());
        if !first {
            tracing::error!(tool = %tool.name, path = %tool.path, "mcp: a tool of this name exists already: left out");
        }
        first
    });
    tools
}

/// The first operation of the document with the id `id`: its method, path and object.
fn find<'d>(document: &'d Value, id: &str) -> Option<(Method, String, &'d Value)> {
    let paths = document.get("paths")?.as_object()?;
    paths.iter().find_map(|(path, item)| {
        item.as_object()?.iter().find_map(|(method, operation)| {
            (operation.get("operationId")?.as_str()? == id).then(|| {
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
                Some((method, path.clone(), operation))
            })?
        })
    })
}

/// One tool per action of the resource: `cancel_order`.
fn actions(
    document: &Value,
    meta: &'static ResourceMeta,
    method: &Method,
    path: &str,
    operation: &Value,
) -> Vec<ToolSpec> {
    let Some(body) = body_schema(operation) else {
        return Vec::new();
    };
    let body = resolve(document, body);
    let mapping = body
        .pointer("/discriminator/mapping")
        .and_then(Value::as_object);
    let Some(mapping) = mapping else {
        return Vec::new();
    };
    mapping
        .iter()
        .filter(|(action, _)| !action.is_empty())
        .map(|(action, reference)| {
            let schema = resolve(document, &json!({ "$ref": reference })).clone();
            tool(
                document,
                meta,
                Op::Action,
                method.clone(),
                path.to_owned(),
                operation,
                Some(action.clone()),
                Some(schema),
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments, reason = "one call site per kind of tool")]
fn tool(
    document: &Value,
    meta: &'static ResourceMeta,
    op: Op,
    method: Method,
    path: String,
    operation: &Value,
    action: Option<String>,
    action_schema: Option<Value>,
) -> ToolSpec {
    let (name, description) = naming(meta, op, action.as_deref(), operation);
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut path_params = Vec::new();
    for parameter in operation
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let parameter = resolve(document, parameter);
        let (Some(name), Some(location)) = (
            parameter.get("name").and_then(Value::as_str),
            parameter.get("in").and_then(Value::as_str),
        ) else {
            continue;
        };
        // Headers (the organization, elevation) come with the MCP request itself.
        if !matches!(location, "path" | "query") {
            continue;
        }
        let mut schema = parameter.get("schema").cloned().unwrap_or(json!({}));
        if let (Some(text), Some(object)) = (
            parameter.get("description").and_then(Value::as_str),
            schema.as_object_mut(),
        ) {
            object.entry("description").or_insert_with(|| text.into());
        }
        if location == "path" {
            path_params.push(name.to_owned());
            required.push(Value::from(name));
        }
        properties.insert(name.to_owned(), schema);
    }
    let body = match action_schema {
        Some(schema) => Some(schema),
        None if op.has_body() => body_schema(operation).map(|s| resolve(document, s).clone()),
        None => None,
    };
    if let Some(body) = body {
        for (field, schema) in body
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            // The action's name is the tool's.
            if op == Op::Action && field == "action" {
                continue;
            }
            properties.insert(field.clone(), schema.clone());
        }
        for field in body
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !(op == Op::Action && field == "action") {
                required.push(field.clone());
            }
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), false.into());
    let defs = definitions(document, &mut schema);
    if !defs.is_empty() {
        schema.insert("$defs".into(), Value::Object(defs));
    }
    ToolSpec {
        meta,
        name,
        description,
        input_schema: Arc::new(schema),
        op,
        method,
        path,
        path_params,
        action,
    }
}

/// The tool's name, as arc names it (`list_products`, `get_product`, `cancel_order`), and
/// its description.
fn naming(
    meta: &ResourceMeta,
    op: Op,
    action: Option<&str>,
    operation: &Value,
) -> (String, String) {
    let name = meta.name.replace('-', "_");
    let collection = meta.collection().replace('-', "_");
    let summary = operation
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tool = match (op, action) {
        (Op::List, _) => format!("list_{collection}"),
        (Op::Action, Some(action)) => format!("{}_{name}", action.replace('-', "_")),
        (op, _) => format!("{}_{name}", op.suffix()),
    };
    let what = match (op, action) {
        (Op::List, _) => format!(
            "List {collection} with optional filters (`field`, `field[op]`), sort, search and pagination."
        ),
        (Op::Get, _) => format!("Get one {name} by id."),
        (Op::Create, _) => format!("Create a {name}."),
        (Op::Update, _) => {
            format!("Update a {name} by id: the fields given change, the others stay.")
        }
        (Op::Delete, _) => format!("Delete a {name} by id."),
        (Op::Action, Some(action)) => format!("Run the action `{action}` on a {name} by id."),
        (Op::Action, None) => String::new(),
    };
    let doc = meta.doc.trim();
    let description = [what.as_str(), summary, doc]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    (tool, description)
}

/// The JSON body's schema of `operation`.
fn body_schema(operation: &Value) -> Option<&Value> {
    operation.pointer("/requestBody/content/application~1json/schema")
}

/// `value`, or what its `$ref` into the document points at.
fn resolve<'d>(document: &'d Value, value: &'d Value) -> &'d Value {
    let mut value = value;
    // A few hops at most; a loop of references stops here.
    for _ in 0..8 {
        let Some(target) = value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| document.pointer(pointer))
        else {
            break;
        };
        value = target;
    }
    value
}

/// Points the schema's references to components at `#/$defs/..` and gathers those
/// components (and theirs) to go with it: a tool's schema stands alone.
fn definitions(document: &Value, schema: &mut Map<String, Value>) -> Map<String, Value> {
    const PREFIX: &str = "#/components/schemas/";
    let mut wanted = BTreeSet::new();
    for value in schema.values_mut() {
        repoint(value, PREFIX, &mut wanted);
    }
    let mut defs = Map::new();
    while let Some(name) = wanted.pop_first() {
        if defs.contains_key(&name) {
            continue;
        }
        let Some(mut component) = document
            .pointer(&format!(
                "/components/schemas/{}",
                name.replace('~', "~0").replace('/', "~1")
            ))
            .cloned()
        else {
            continue;
        };
        let mut more = BTreeSet::new();
        repoint(&mut component, PREFIX, &mut more);
        wanted.extend(more.into_iter().filter(|n| !defs.contains_key(n)));
        defs.insert(name, component);
    }
    defs
}

fn repoint(value: &mut Value, prefix: &str, wanted: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(name) = reference.strip_prefix(prefix)
            {
                let name = name.to_owned();
                *reference = format!("#/$defs/{name}");
                wanted.insert(name);
            }
            for child in map.values_mut() {
                repoint(child, prefix, wanted);
            }
        }
        Value::Array(items) => {
            for item in items {
                repoint(item, prefix, wanted);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_takes_the_components_it_needs_with_it() {
        let document = json!({"components": {"schemas": {
            "Line": {"type": "object", "properties": {"item": {"$ref": "#/components/schemas/Item"}}},
            "Item": {"type": "object", "properties": {"parent": {"$ref": "#/components/schemas/Item"}}},
            "Unused": {"type": "string"}
        }}});
        let mut schema = Map::new();
        schema.insert(
            "properties".into(),
            json!({"lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}}}),
        );
        let defs = definitions(&document, &mut schema);
        assert_eq!(defs.keys().collect::<Vec<_>>(), ["Item", "Line"]);
        assert_eq!(
            schema["properties"]["lines"]["items"]["$ref"],
            "#/$defs/Line"
        );
        assert_eq!(defs["Line"]["properties"]["item"]["$ref"], "#/$defs/Item");
        assert_eq!(
            defs["Item"]["properties"]["parent"]["$ref"], "#/$defs/Item",
            "a cycle ends"
        );
        let reference = json!({"$ref": "#/components/schemas/Line"});
        assert_eq!(resolve(&document, &reference)["type"], "object");
        let looping = json!({"$ref": "#/a"});
        let document = json!({"a": {"$ref": "#/a"}});
        assert!(
            resolve(&document, &looping).get("$ref").is_some(),
            "a loop of references ends"
        );
    }
}
