//! [`smoke`]: every route of a resource, sent by each persona, each answer one the app's
//! document lists for the route, and never a server error.

use arc_runtime::meta::{FieldType, ResourceMeta};
use arc_runtime::{Action, Resource};
use axum::http::Method;
use serde_json::{Value, json};

use crate::app::TestApp;
use crate::factory::{body_of, required};
use crate::persona::Persona;

/// One answer of a smoke run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmokeAnswer {
    /// Who sent it.
    pub persona: String,
    /// The method.
    pub method: Method,
    /// The route's template (`/products/{id}`).
    pub route: String,
    /// The status heard.
    pub status: u16,
}

/// What a smoke run sent and heard, in order.
#[derive(Clone, Debug, Default)]
pub struct Smoke {
    /// Every answer.
    pub answers: Vec<SmokeAnswer>,
}

impl Smoke {
    /// The status `persona` heard from `method route`, if they sent it.
    pub fn status(&self, persona: &str, method: Method, route: &str) -> Option<u16> {
        self.answers
            .iter()
            .find(|a| a.persona == persona && a.method == method && a.route == route)
            .map(|a| a.status)
    }
}

/// Sends every route `R` serves (those its document describes) as each of `personas`, and
/// checks each answer: one the document lists for the route, with a body its schema allows
/// (as every answer of a [`TestApp`] is checked), and never a 5xx (a panic naming the
/// request). First each persona creates a row on the collection route (with
/// [`body_for`](crate::body_for), and a slug when the resource is looked up by one); then
/// each sends the other routes, reads before writes, naming their own row, or the first
/// row another persona created, or an id no row has; `{orgId}` is their organization. The
/// row is deleted last, then restored, where the resource has those routes. Bulk routes
/// send a filter that matches no row, the action route the first action. A create that needs a row of another resource (a
/// required reference) first makes one as the same persona (a 400, documented, when they
/// may not); those requests are the referenced resource's, not part of the answer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let secret = shop::DEV_JWT_SECRET.as_bytes();
/// let app = arc_test::TestApp::new(|db| shop::app(db, secret).expect("the shop")).await;
/// let tokens = arc_test::Tokens::hs256(secret);
/// let admin = tokens.persona("ada").org("acme", &["admin"]).build();
/// let member = tokens.persona("max").org("acme", &[]).build();
/// let anonymous = arc_test::Persona::anonymous();
/// let smoke = arc_test::smoke::<shop::Category>(&app, &[&anonymous, &member, &admin]).await;
/// assert_eq!(smoke.status("anonymous", arc_test::Method::POST, "/categories"), Some(401));
/// # }
/// ```
pub async fn smoke<R: Resource>(app: &TestApp, personas: &[&Persona]) -> Smoke {
    smoke_of(app, R::META, personas).await
}

/// [`smoke`], of a resource's field table: for every resource an app serves
/// ([`TestApp::resources`]), the ones it names in no test too.
pub async fn smoke_of(app: &TestApp, meta: &ResourceMeta, personas: &[&Persona]) -> Smoke {
    let document = app.document();
    // The resource's own routes, as the document has them, in the order they are sent:
    // reads before writes, the delete and then the restore last.
    let mut routes: Vec<(Action, String, Method)> = Action::ALL
        .into_iter()
        .filter(|&action| action != Action::Create)
        .map(|action| (action, action.path(meta.path)))
        .filter_map(|(action, template)| {
            let operations = document["paths"][&template].as_object()?;
            let name = action.method().as_str();
            let method = Method::from_bytes(name.as_bytes()).ok()?;
            operations
                .contains_key(&name.to_ascii_lowercase())
                .then_some((action, template, method))
        })
        .collect();
    routes.sort_by_key(|(action, _, method)| match action {
        Action::Delete => 2,
        Action::Restore => 3,
        Action::BulkDelete => 4,
        _ if *method == Method::GET => 0,
        _ => 1,
    });
    let nobody = match meta.id_field().ty {
        FieldType::I32 | FieldType::I64 => "0".to_owned(),
        _ => arc_runtime::uuid::Uuid::nil().to_string(),
    };
    let slug_field = meta.presets.slug_lookup.map(|i| meta.fields[i].name);
    let mut smoke = Smoke::default();
    let mut send = async |persona: &Persona,
                          action: Action,
                          template: &str,
                          method: &Method,
                          row: Option<&Row>| {
        let seq = smoke.answers.len() as u64;
        let org = persona.org.as_deref().unwrap_or("none");
        let uri = template
            .replace("{id}", row.map_or(nobody.as_str(), |r| r.id.as_str()))
            .replace(
                "{slug}",
                &segment(row.and_then(|r| r.slug.as_deref()).unwrap_or("none")),
            )
            .replace(arc_runtime::meta::ORG_SEGMENT, &segment(org));
        let body = match action {
            Action::Create => {
                let mut body = body_of(meta, seq);
                for (field, id) in references(app, meta, persona, seq, 2).await {
                    body[field] = json!(id);
                }
                if let Some(field) = slug_field
                    && body.get(field).is_none()
                {
                    body[field] = json!(format!("smoke-{seq}"));
                }
                Some(body)
            }
            Action::Update | Action::Replace => Some(body_of(meta, seq)),
            Action::BulkCreate => Some(json!({ "items": [body_of(meta, seq)] })),
            Action::BulkUpdate => {
                Some(json!({ "filter": { "id": nobody }, "data": body_of(meta, seq) }))
            }
            Action::BulkDelete => Some(json!({ "filter": { "id": nobody } })),
            // The resource's first action (one with a body of its own may answer 400).
            Action::Act => Some(json!({
                "action": meta.permissions.actions.first().map_or("none", |(name, _)| *name)
            })),
            _ => None,
        };
        let mut request = app.request(method.clone(), &uri).as_(persona);
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = request.await;
        let status = reply.status.as_u16();
        assert!(
            status < 500,
            "{method} {uri} as {} answered {status}: {}",
            persona.name,
            reply.body
        );
        smoke.answers.push(SmokeAnswer {
            persona: persona.name.clone(),
            method: method.clone(),
            route: template.to_owned(),
            status,
        });
        reply
    };
    // Each persona's create, and the row it made.
    let create = Action::Create.path(meta.path);
    let creates = document["paths"][&create]["post"].is_object();
    let mut rows: Vec<Option<Row>> = Vec::new();
    for persona in personas {
        let row = if creates {
            let reply = send(persona, Action::Create, &create, &Method::POST, None).await;
            (reply.status.as_u16() == 201).then(|| Row {
                id: reply.id(),
                slug: slug_field
                    .and_then(|field| reply.data()[field].as_str())
                    .map(str::to_owned),
            })
        } else {
            None
        };
        rows.push(row);
    }
    let first = rows.iter().flatten().next().cloned();
    for (persona, own) in personas.iter().zip(&rows) {
        let row = own.clone().or_else(|| first.clone());
        for (action, template, method) in &routes {
            send(persona, *action, template, method, row.as_ref()).await;
        }
    }
    smoke
}

/// The referenced rows' ids [`references`] makes: `(field, id)`.
type References<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<(&'static str, Value)>> + Send + 'a>>;

/// For each required reference of `meta` (`#[field(references = ..)]`), the id of a row of
/// the resource it names, created by `persona` (its own references made the same way, to
/// `depth` levels); a reference whose row cannot be made is left out (the create is then
/// a 400, documented).
fn references<'a>(
    app: &'a TestApp,
    meta: &'a ResourceMeta,
    persona: &'a Persona,
    seq: u64,
    depth: u8,
) -> References<'a> {
    Box::pin(async move {
        let mut ids = Vec::new();
        if depth == 0 {
            return ids;
        }
        for field in meta.fields.iter().filter(|f| required(f)) {
            let Some(target) = field.references.map(|target| target()) else {
                continue;
            };
            let mut body = body_of(target, seq);
            for (name, id) in references(app, target, persona, seq, depth - 1).await {
                body[name] = id;
            }
            let reply = app.post(target.path, body).as_(persona).await;
            if reply.status.as_u16() == 201 {
                ids.push((field.name, reply.data()["id"].clone()));
            }
        }
        ids
    })
}

/// A row a persona created: its id, and its slug.
#[derive(Clone, Debug)]
struct Row {
    id: String,
    slug: Option<String>,
}

/// `value` as one path segment: every byte but the unreserved ones percent-encoded.
fn segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_encoded() {
        assert_eq!(super::segment("a b/ç"), "a%20b%2F%C3%A7");
    }
}
