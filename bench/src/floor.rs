//! The SQLite floor: the open product resource's three routes in axum over one rusqlite
//! connection used inline (no worker thread, no pool), with cached prepared statements and
//! rows written straight into the same JSON as the other servers. What SQLite itself can do
//! on this machine; every other server is measured against it.

use std::sync::{Arc, Mutex};

use arc_runtime::TextEnum;
use arc_runtime::chrono::{DateTime, SecondsFormat, Utc};
use arc_runtime::uuid::Uuid;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::hand::{NewProduct, Page, error};

/// The one connection, used inline by every handler.
type Db = Arc<Mutex<Connection>>;

/// The columns every read returns, in the order of [`ProductOut`].
const COLUMNS: &str = "id, org_id, name, slug, price, status, category_id, cost, is_featured, \
                       created_by, deleted_at, created_at, updated_at";

#[derive(Serialize)]
struct ProductOut {
    id: Uuid,
    org_id: Option<String>,
    name: String,
    slug: Option<String>,
    price: i64,
    status: String,
    category_id: Option<Uuid>,
    cost: Option<i64>,
    is_featured: bool,
    created_by: Option<String>,
    deleted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A uuid as sqlx stores it (16 bytes).
fn uuid_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    let bytes: Option<Vec<u8>> = row.get(i)?;
    bytes
        .map(|b| Uuid::from_slice(&b))
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, e.into())
        })
}

/// A timestamp as sqlx stores it (RFC 3339 text).
fn time_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(i)?;
    text.map(|t| DateTime::parse_from_rfc3339(&t).map(|d| d.with_timezone(&Utc)))
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
}

fn required<T>(value: Option<T>, i: usize) -> rusqlite::Result<T> {
    value.ok_or(rusqlite::Error::InvalidColumnType(
        i,
        "NULL".into(),
        rusqlite::types::Type::Null,
    ))
}

fn product(row: &Row<'_>) -> rusqlite::Result<ProductOut> {
    Ok(ProductOut {
        id: required(uuid_at(row, 0)?, 0)?,
        org_id: row.get(1)?,
        name: row.get(2)?,
        slug: row.get(3)?,
        price: row.get(4)?,
        status: row.get(5)?,
        category_id: uuid_at(row, 6)?,
        cost: row.get(7)?,
        is_featured: row.get(8)?,
        created_by: row.get(9)?,
        deleted_at: time_at(row, 10)?,
        created_at: required(time_at(row, 11)?, 11)?,
        updated_at: required(time_at(row, 12)?, 12)?,
    })
}

fn internal(e: impl std::fmt::Display) -> Response {
    eprintln!("floor: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

#[derive(Deserialize)]
struct Paging {
    page: Option<u64>,
    limit: Option<u64>,
}

fn list_page(db: &Connection, page: u64, limit: u64) -> rusqlite::Result<Page<ProductOut>> {
    let total: u64 = db
        .prepare_cached("SELECT COUNT(*) FROM products WHERE deleted_at IS NULL")?
        .query_row([], |r| r.get(0))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE deleted_at IS NULL \
         ORDER BY created_at DESC, id ASC LIMIT ?1 OFFSET ?2"
    );
    let mut statement = db.prepare_cached(&sql)?;
    let docs = statement
        .query_map(params![limit, (page - 1) * limit], product)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page::new(docs, page, limit, total))
}

async fn list(State(db): State<Db>, Query(q): Query<Paging>) -> Response {
    let page = q.page.unwrap_or(1).max(1);
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    let Ok(conn) = db.lock() else {
        return internal("poisoned");
    };
    match list_page(&conn, page, limit) {
        Ok(body) => Json(body).into_response(),
        Err(e) => internal(e),
    }
}

fn find(db: &Connection, id: Uuid) -> rusqlite::Result<Option<ProductOut>> {
    let sql = format!("SELECT {COLUMNS} FROM products WHERE id = ?1 AND deleted_at IS NULL");
    db.prepare_cached(&sql)?
        .query_row([id.as_bytes().as_slice()], product)
        .optional()
}

async fn get_one(State(db): State<Db>, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return error(StatusCode::NOT_FOUND, "product not found");
    };
    let Ok(conn) = db.lock() else {
        return internal("poisoned");
    };
    match find(&conn, id) {
        Ok(Some(p)) => Json(serde_json::json!({ "success": true, "data": p })).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "product not found"),
        Err(e) => internal(e),
    }
}

/// Inserts `p` (one statement, no transaction around it) and reads the row back as the
/// insert returns it.
fn insert(db: &Connection, p: NewProduct) -> rusqlite::Result<ProductOut> {
    let now = Utc::now();
    // The text sqlx writes for a timestamp, so rows sort the same whoever wrote them.
    let stamp = now.to_rfc3339_opts(SecondsFormat::AutoSi, false);
    let sql = format!(
        "INSERT INTO products (id, org_id, name, slug, price, status, category_id, cost, \
         internal_note, is_featured, created_by, deleted_at, created_at, updated_at) \
         VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, ?10, ?10) \
         RETURNING {COLUMNS}"
    );
    let id = Uuid::new_v4();
    let category = p.category_id.map(|c| c.as_bytes().to_vec());
    db.prepare_cached(&sql)?.query_row(
        params![
            id.as_bytes().as_slice(),
            p.name,
            p.slug,
            p.price,
            p.status.as_str(),
            category,
            p.cost,
            p.internal_note,
            p.is_featured,
            stamp,
        ],
        product,
    )
}

async fn create(State(db): State<Db>, Json(p): Json<NewProduct>) -> Response {
    if p.invalid() {
        return error(StatusCode::BAD_REQUEST, "Validation failed");
    }
    let Ok(conn) = db.lock() else {
        return internal("poisoned");
    };
    match insert(&conn, p) {
        Ok(m) => {
            let location = format!("/products/{}", m.id);
            let body = serde_json::json!({ "success": true, "data": m, "message": "Created successfully" });
            (
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(body),
            )
                .into_response()
        }
        Err(e) => internal(e),
    }
}

/// The floor's router over the database file at `path`, with the settings every other
/// server's connections have (WAL, `synchronous = NORMAL`, foreign keys, a busy timeout).
pub(crate) fn router(path: &std::path::Path) -> rusqlite::Result<axum::Router> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(axum::Router::new()
        .route("/products", get(list).post(create))
        .route("/products/{id}", get(get_one))
        .with_state(Arc::new(Mutex::new(conn))))
}
