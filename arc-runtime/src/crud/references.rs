//! References between resources: a field with `#[field(references = Category)]` holds the id
//! of a row of that resource, and a write that names one must name a row the caller could
//! read (within that resource's get rule, tenant, owner and live rows); else it is a 400 on
//! the field, as if the row did not exist, so a reference never tells a caller about a row
//! they cannot see.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, SqlErr, Value};

use crate::action::Operation;
use crate::auth::AuthContext;
use crate::crud::access::{Read, Scope, decide, scope};
use crate::crud::body::Values;
use crate::error::{ArcError, ErrorCode, FieldError};
use crate::query::sql;
use crate::resource::ResourceMeta;

/// The answer to a delete the database refused because rows still reference the row through
/// a required reference (its foreign key is `ON DELETE NO ACTION`; a nullable one is set to
/// `NULL` instead): 409 `CONFLICT`. It says that some row references it, never which or
/// whose. Any other error as it is.
pub(crate) fn still_referenced(err: DbErr) -> ArcError {
    if matches!(
        err.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    ) {
        tracing::debug!(error = %err, "a delete refused: the row is still referenced");
        return ArcError::new(
            ErrorCode::Conflict,
            "Other records still reference this one: change or delete them first",
        );
    }
    err.into()
}

/// Refuses `values` (a write of `meta`'s resource, as decoded) when a reference among them
/// names no row `caller` may read; every such field in one 400.
///
/// `db` asks (the write's transaction, where there is one); `hooks` is what the targets'
/// [`before_get`](crate::ReadHooks::before_get) hooks ask.
pub(crate) async fn check<C: ConnectionTrait>(
    db: &C,
    hooks: &DatabaseConnection,
    meta: &ResourceMeta,
    values: &Values,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    let mut errors = Vec::new();
    Checked::default()
        .missing(db, hooks, meta, values, caller, "", &mut errors)
        .await?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ArcError::validation(errors))
    }
}

/// The references asked of the database so far, and their answers: a bulk write asks each
/// (field, id) once, however many of its items name it.
#[derive(Default)]
pub(crate) struct Checked(Vec<(usize, Value, bool)>);

impl Checked {
    /// Adds to `errors` each reference among `values` that names no row `caller` may read;
    /// `prefix` names the item of a bulk body (`items[2].`).
    #[expect(
        clippy::too_many_arguments,
        reason = "one write's references: where to ask, whose, which, by whom, and where to say"
    )]
    pub(crate) async fn missing<C: ConnectionTrait>(
        &mut self,
        db: &C,
        hooks: &DatabaseConnection,
        meta: &ResourceMeta,
        values: &Values,
        caller: &AuthContext,
        prefix: &str,
        errors: &mut Vec<FieldError>,
    ) -> Result<(), ArcError> {
        for (i, value) in values {
            let Some(field) = meta.fields.get(*i) else {
                continue;
            };
            let Some(target) = field.references else {
                continue;
            };
            if is_null(value) {
                continue;
            }
            let known = self
                .0
                .iter()
                .find(|(f, v, _)| f == i && v == value)
                .map(|(_, _, found)| *found);
            let found = match known {
                Some(found) => found,
                None => {
                    let found = exists(db, hooks, target(), value, caller).await?;
                    self.0.push((*i, value.clone(), found));
                    found
                }
            };
            if !found {
                errors.push(FieldError {
                    field: format!("{prefix}{}", field.name),
                    message: format!("no such {}", target().name),
                    keyword: "exists",
                });
            }
        }
        Ok(())
    }
}

/// Whether `caller` may read the live row of `target` whose id is `id`.
async fn exists<C: ConnectionTrait>(
    db: &C,
    hooks: &DatabaseConnection,
    target: &'static ResourceMeta,
    id: &Value,
    caller: &AuthContext,
) -> Result<bool, ArcError> {
    // A caller who may not read the resource at all sees no row of it.
    let Ok(decided) = decide(target, Operation::Get, caller, hooks).await else {
        return Ok(false);
    };
    let mut select = Query::select();
    select
        .expr(Expr::val(1))
        .from(target.table)
        .cond_where(
            // A read hook that refuses the caller leaves them no row of it.
            match decided
                .readable(hooks, Read::One, scope(target, Scope::Live))
                .await
            {
                Ok(rows) => rows,
                Err(_) => return Ok(false),
            },
        )
        .and_where(sql::column(target, target.id).eq(id.clone()))
        .limit(1);
    Ok(db.query_one(&select).await?.is_some())
}

/// Whether `value` is SQL `NULL` (a nullable reference left empty).
pub(crate) fn is_null(value: &Value) -> bool {
    matches!(
        value,
        Value::Uuid(None) | Value::Int(None) | Value::BigInt(None)
    )
}
