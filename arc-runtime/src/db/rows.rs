//! Values and rows between sea-orm and rusqlite: a statement's values bound as sqlx-sqlite
//! binds them, its rows decoded as sqlx-sqlite reads them (UUIDs as 16-byte blobs, times as
//! RFC 3339 text, decimals read back through `f64`, JSON as text), so a row written or read
//! through either reads the same. A read's row becomes a [`Record`] (by the field table's
//! types, [`Records`]; on the pool, [`record`]); a created row returned to the committer
//! becomes the entity's model through its active model's own conversions ([`Models`]).
//! Shared by the [`Reader`](super::Reader) and the [`Committer`](super::commit).

use std::marker::PhantomData;

use chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, SecondsFormat, TimeZone,
    Utc,
};
use rusqlite::Connection;
use rusqlite::types::{Value as Sql, ValueRef};
use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ColumnType, DbErr, EntityTrait, IdenStatic, Iterable,
    RuntimeErr, SqlErr, TryIntoModel,
};

use crate::crud::record::Record;
use crate::resource::{FieldMeta, FieldType, ResourceMeta};

/// Why a statement failed.
#[derive(Clone, Debug)]
pub(super) enum Failure {
    /// It was stopped: past its deadline.
    Interrupted,
    /// It would have waited for a lock (inline), or waited the whole busy timeout.
    Busy,
    /// Not run here (a column or value this module does not handle, or no thread to run it
    /// on): the caller hands the statement to sea-orm.
    Unsupported,
    /// The database refused the row: a unique or a foreign key.
    Refused(SqlErr),
    /// Anything else.
    Db(DbErr),
}

impl From<rusqlite::Error> for Failure {
    fn from(err: rusqlite::Error) -> Self {
        let Some(code) = err.sqlite_error() else {
            return Self::Db(query_err(err));
        };
        let message = || match &err {
            rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
            _ => err.to_string(),
        };
        // The extended codes sea-orm reads off sqlx's errors (`DbErr::sql_err`).
        match (code.code, code.extended_code) {
            (_, 1555 | 2067) => Self::Refused(SqlErr::UniqueConstraintViolation(message())),
            (_, 787) => Self::Refused(SqlErr::ForeignKeyConstraintViolation(message())),
            (rusqlite::ErrorCode::OperationInterrupted, _) => Self::Interrupted,
            (rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked, _) => {
                Self::Busy
            }
            _ => Self::Db(query_err(err)),
        }
    }
}

impl From<DbErr> for Failure {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

/// The message of the error a statement stopped by the
/// [`STATEMENT_TIMEOUT`](super::STATEMENT_TIMEOUT) fails with (answered 503, see `ArcError`'s
/// `From<DbErr>`).
pub(crate) const STATEMENT_STOPPED: &str = "the statement ran past its timeout and was stopped";

/// The message of the error a statement that waited the whole busy timeout for a lock fails
/// with (answered 503).
pub(crate) const STATEMENT_BUSY: &str = "the database stayed locked past the busy timeout";

impl Failure {
    /// The failure as sea-orm reports one (`Unsupported` included: a caller that could
    /// hand the statement on did so before).
    pub(super) fn into_db_err(self) -> DbErr {
        match self {
            Self::Interrupted => query_err(STATEMENT_STOPPED),
            Self::Busy => query_err(STATEMENT_BUSY),
            Self::Unsupported => query_err("a value or column SQLite is not read or written here"),
            Self::Refused(err) => DbErr::Exec(RuntimeErr::Internal(err.to_string())),
            Self::Db(err) => err,
        }
    }
}

/// Runs `statement` (its SQL `sql`) in a span named and shaped as sea-orm's own (`name`,
/// `operation`), then reports it as every statement is ([`trace`](super::trace)).
pub(super) async fn traced<T>(
    name: &'static str,
    operation: &'static str,
    sql: &str,
    statement: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "sea_orm.query",
        otel.name = name,
        otel.kind = "client",
        db.system = "sqlite",
        db.operation = operation,
        db.statement = sql,
        otel.status_code = tracing::field::Empty,
        exception.message = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let result = statement.instrument(span.clone()).await;
    if let Err(Failure::Unsupported) = result {
        // Not run here: sea-orm runs it, in a span of its own.
        return result;
    }
    match &result {
        Ok(_) => span.record("otel.status_code", "OK"),
        Err(failure) => {
            span.record("otel.status_code", "ERROR");
            let message = failure.clone().into_db_err();
            span.record("exception.message", tracing::field::display(message))
        }
    };
    super::trace(sql, started.elapsed(), result.is_err());
    result
}

/// A connection of this crate's own to the SQLite file at `path` (the file exists; URIs
/// as sqlx takes them; used by one thread at a time).
pub(super) fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
        | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    Connection::open_with_flags(path, flags)
}

/// A failure of this module's own as sea-orm reports one.
pub(super) fn query_err(err: impl std::fmt::Display) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(err.to_string()))
}

/// Runs `sql` on `db` (prepared once per connection) with `values` bound in order (`None`:
/// a value not handled here), each row decoded by `decode`.
pub(super) fn query<D: Decode, V: rusqlite::ToSql>(
    db: &Connection,
    sql: &str,
    values: impl IntoIterator<Item = Option<V>>,
    decode: &D,
) -> Result<Vec<D::Out>, Failure> {
    let mut prepared = db.prepare_cached(sql)?;
    for (i, value) in values.into_iter().enumerate() {
        prepared.raw_bind_parameter(i + 1, value.ok_or(Failure::Unsupported)?)?;
    }
    let plan = decode.plan(&prepared).ok_or(Failure::Unsupported)?;
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode.row(&plan, row)?);
    }
    Ok(out)
}

/// What a statement's rows become.
pub(super) trait Decode: Send + 'static {
    /// One row, decoded.
    type Out: Send + 'static;
    /// What is known of the statement's columns before its first row.
    type Plan;
    /// The plan for `statement`'s columns; `None` when a column is not one this decoder
    /// reads.
    fn plan(&self, statement: &rusqlite::Statement<'_>) -> Option<Self::Plan>;
    /// One row.
    fn row(&self, plan: &Self::Plan, row: &rusqlite::Row<'_>) -> Result<Self::Out, DbErr>;
}

/// The first column as a count.
pub(super) struct Count;

impl Decode for Count {
    type Out = u64;
    type Plan = ();

    fn plan(&self, _: &rusqlite::Statement<'_>) -> Option<()> {
        Some(())
    }

    fn row(&self, (): &(), row: &rusqlite::Row<'_>) -> Result<u64, DbErr> {
        let n: i64 = row.get(0).map_err(query_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Rows as `E`'s models: each column's value set on an active model, which becomes the
/// model (sea-orm's own conversions, as for a row read through it).
pub(super) struct Models<E>(PhantomData<fn() -> E>);

impl<E> Models<E> {
    pub(super) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<E: EntityTrait> Models<E> {
    /// Whether every column of `E` is of a type decoded here.
    pub(super) fn readable() -> bool {
        E::Column::iter().all(|c| Kind::of(c.def().get_column_type()).is_some())
    }
}

impl<E: EntityTrait> Decode for Models<E>
where
    E::Model: Send + 'static,
    E::ActiveModel: TryIntoModel<E::Model>,
{
    type Out = E::Model;
    /// Each column's entity column and kind.
    type Plan = Vec<(E::Column, Kind)>;

    fn plan(&self, statement: &rusqlite::Statement<'_>) -> Option<Self::Plan> {
        statement
            .column_names()
            .iter()
            .map(|name| {
                let column = E::Column::iter().find(|c| c.as_str() == *name)?;
                Some((column, Kind::of(column.def().get_column_type())?))
            })
            .collect()
    }

    fn row(&self, plan: &Self::Plan, row: &rusqlite::Row<'_>) -> Result<E::Model, DbErr> {
        let mut model = <E::ActiveModel as ActiveModelTrait>::default();
        for (i, (column, kind)) in plan.iter().enumerate() {
            let raw = row.get_ref(i).map_err(query_err)?;
            let value = kind
                .decode(raw)
                .map_err(|e| query_err(format!("column `{}`: {e}", column.as_str())))?;
            model.try_set(*column, value)?;
        }
        model.try_into_model()
    }
}

/// Rows as [`Record`]s of one resource: column `i` is field `i` (a select of the entity's
/// columns lists them in the field table's order), decoded as the type of that field, as
/// [`Models`] decodes it for the field's model (one decoder for every resource, where
/// [`Models`] is one per entity).
pub(super) struct Records(pub(super) &'static ResourceMeta);

impl Decode for Records {
    type Out = Record;
    /// Nothing: column `i` is field `i`, read as its type says.
    type Plan = ();

    fn plan(&self, statement: &rusqlite::Statement<'_>) -> Option<()> {
        (statement.column_count() == self.0.fields.len()).then_some(())
    }

    fn row(&self, (): &(), row: &rusqlite::Row<'_>) -> Result<Record, DbErr> {
        let fields = self.0.fields;
        let values = exactly(
            fields.len(),
            fields.iter().enumerate().map(|(i, field)| {
                let raw = row.get_ref(i).map_err(query_err)?;
                if raw == ValueRef::Null && !field.nullable {
                    return Err(null_in(field));
                }
                Kind::of_field(field.ty)
                    .decode(raw)
                    .map_err(|e| query_err(format!("field `{}`: {e}", field.name)))
            }),
        )?;
        Ok(Record::new(values))
    }
}

/// A row of the pool (sqlx) as a record of `meta`'s resource: column `i` is field `i` (as
/// for [`Records`]), read as the type its model field has.
pub(super) fn record(meta: &ResourceMeta, row: &sea_orm::QueryResult) -> Result<Record, DbErr> {
    let values = exactly(
        meta.fields.len(),
        meta.fields.iter().enumerate().map(|(i, field)| {
            let value = match field.ty {
                FieldType::Uuid => Value::Uuid(row.try_get_by_index(i)?),
                FieldType::String | FieldType::Enum(_) => Value::String(row.try_get_by_index(i)?),
                FieldType::I32 => Value::Int(row.try_get_by_index(i)?),
                FieldType::I64 => Value::BigInt(row.try_get_by_index(i)?),
                FieldType::F64 => Value::Double(row.try_get_by_index(i)?),
                FieldType::Bool => Value::Bool(row.try_get_by_index(i)?),
                FieldType::DateTime => Value::ChronoDateTimeUtc(row.try_get_by_index(i)?),
                FieldType::Decimal => Value::Decimal(row.try_get_by_index(i)?),
                FieldType::Json => Value::Json(
                    row.try_get_by_index::<Option<serde_json::Value>>(i)?
                        .map(Box::new),
                ),
            };
            present(field, value)
        }),
    )?;
    Ok(Record::new(values))
}

/// The `n` values of a row, or its first error. `collect` into a `Result` would start from
/// no room (its size hint is 0), grow three times for a row of 13 fields and shrink once to
/// make the slice: four reallocations per row, 80 per page of twenty.
fn exactly(
    n: usize,
    values: impl Iterator<Item = Result<Value, DbErr>>,
) -> Result<Box<[Value]>, DbErr> {
    let mut row = Vec::with_capacity(n);
    for value in values {
        row.push(value?);
    }
    Ok(row.into_boxed_slice())
}

/// `value`, unless it is a null in a field that is not `Option` (a column left nullable by
/// an earlier version of the struct): an error, as the model's own decoding makes it. For
/// the pool's rows; [`Records`] looks at the column before decoding it.
fn present(field: &FieldMeta, value: Value) -> Result<Value, DbErr> {
    if !field.nullable && value == value.as_null() {
        return Err(null_in(field));
    }
    Ok(value)
}

/// The error of a null read for `field`, which is not an `Option`.
fn null_in(field: &FieldMeta) -> DbErr {
    query_err(format!(
        "field `{}` is null in the database but not an `Option`",
        field.name
    ))
}

/// The value a column holds, as its model field reads it (sea-orm's `ValueType` takes one
/// variant of [`Value`] per Rust type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Text,
    Bytes,
    Uuid,
    DateTimeUtc,
    DateTime,
    Date,
    Time,
    Decimal,
    Json,
}

impl Kind {
    /// The kind of the column the macro declares for a field of type `ty`.
    fn of_field(ty: FieldType) -> Self {
        match ty {
            FieldType::Uuid => Self::Uuid,
            FieldType::String | FieldType::Enum(_) => Self::Text,
            FieldType::I32 => Self::Int,
            FieldType::I64 => Self::BigInt,
            FieldType::F64 => Self::Double,
            FieldType::Bool => Self::Bool,
            FieldType::DateTime => Self::DateTimeUtc,
            FieldType::Decimal => Self::Decimal,
            FieldType::Json => Self::Json,
        }
    }

    /// The kind of a column of type `ty` (`None`: not read inline).
    fn of(ty: &ColumnType) -> Option<Self> {
        Some(match ty {
            ColumnType::Boolean => Self::Bool,
            ColumnType::TinyInteger => Self::TinyInt,
            ColumnType::SmallInteger => Self::SmallInt,
            ColumnType::Integer => Self::Int,
            ColumnType::BigInteger => Self::BigInt,
            ColumnType::Float => Self::Float,
            ColumnType::Double => Self::Double,
            ColumnType::String(_) | ColumnType::Text | ColumnType::Enum { .. } => Self::Text,
            ColumnType::Binary(_) | ColumnType::VarBinary(_) | ColumnType::Blob => Self::Bytes,
            ColumnType::Uuid => Self::Uuid,
            ColumnType::TimestampWithTimeZone => Self::DateTimeUtc,
            ColumnType::DateTime | ColumnType::Timestamp => Self::DateTime,
            ColumnType::Date => Self::Date,
            ColumnType::Time => Self::Time,
            ColumnType::Decimal(_) | ColumnType::Money(_) => Self::Decimal,
            ColumnType::Json | ColumnType::JsonBinary => Self::Json,
            _ => return None,
        })
    }

    /// `raw` as a value of this kind, read as sqlx reads it.
    fn decode(self, raw: ValueRef<'_>) -> Result<Value, String> {
        if raw == ValueRef::Null {
            return Ok(self.null());
        }
        Ok(match self {
            Self::Bool => Value::Bool(Some(integer(raw)? != 0)),
            Self::TinyInt => Value::TinyInt(Some(narrow(integer(raw)?)?)),
            Self::SmallInt => Value::SmallInt(Some(narrow(integer(raw)?)?)),
            Self::Int => Value::Int(Some(narrow(integer(raw)?)?)),
            Self::BigInt => Value::BigInt(Some(integer(raw)?)),
            #[allow(clippy::cast_possible_truncation)]
            Self::Float => Value::Float(Some(real(raw)? as f32)),
            Self::Double => Value::Double(Some(real(raw)?)),
            Self::Text => Value::String(Some(text(raw)?)),
            Self::Bytes => Value::Bytes(Some(match raw {
                ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
                _ => return Err("not a blob".into()),
            })),
            Self::Uuid => Value::Uuid(Some(match raw {
                ValueRef::Blob(b) => uuid::Uuid::from_slice(b).map_err(|e| e.to_string())?,
                _ => return Err("not a UUID blob".into()),
            })),
            Self::DateTimeUtc => Value::ChronoDateTimeUtc(Some(datetime(raw)?.with_timezone(&Utc))),
            Self::DateTime => Value::ChronoDateTime(Some(datetime(raw)?.naive_local())),
            Self::Date => Value::ChronoDate(Some(
                NaiveDate::parse_from_str(&text(raw)?, "%F").map_err(|e| e.to_string())?,
            )),
            Self::Time => Value::ChronoTime(Some(time(&text(raw)?)?)),
            Self::Decimal => {
                let f = real(raw)?;
                Value::Decimal(Some(
                    rust_decimal::Decimal::try_from(f).map_err(|e| e.to_string())?,
                ))
            }
            Self::Json => Value::Json(Some(Box::new(match raw {
                ValueRef::Text(t) => serde_json::from_slice(t).map_err(|e| e.to_string())?,
                _ => return Err("not JSON text".into()),
            }))),
        })
    }

    /// The null of this kind.
    fn null(self) -> Value {
        match self {
            Self::Bool => Value::Bool(None),
            Self::TinyInt => Value::TinyInt(None),
            Self::SmallInt => Value::SmallInt(None),
            Self::Int => Value::Int(None),
            Self::BigInt => Value::BigInt(None),
            Self::Float => Value::Float(None),
            Self::Double => Value::Double(None),
            Self::Text => Value::String(None),
            Self::Bytes => Value::Bytes(None),
            Self::Uuid => Value::Uuid(None),
            Self::DateTimeUtc => Value::ChronoDateTimeUtc(None),
            Self::DateTime => Value::ChronoDateTime(None),
            Self::Date => Value::ChronoDate(None),
            Self::Time => Value::ChronoTime(None),
            Self::Decimal => Value::Decimal(None),
            Self::Json => Value::Json(None),
        }
    }
}

/// An integer: a value stored as one (sqlx refuses the others).
fn integer(raw: ValueRef<'_>) -> Result<i64, String> {
    match raw {
        ValueRef::Integer(i) => Ok(i),
        _ => Err("not an integer".into()),
    }
}

/// An integer narrowed to a field's type, refused when it does not fit (as sqlx does).
fn narrow<T: TryFrom<i64>>(i: i64) -> Result<T, String> {
    T::try_from(i).map_err(|_| format!("{i} is out of range"))
}

/// A real number, as SQLite's `sqlite3_value_double` reads one.
fn real(raw: ValueRef<'_>) -> Result<f64, String> {
    match raw {
        #[allow(clippy::cast_precision_loss)]
        ValueRef::Integer(i) => Ok(i as f64),
        ValueRef::Real(f) => Ok(f),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| "not a number".into()),
        _ => Err("not a number".into()),
    }
}

/// Text: a value stored as text (sqlx refuses the others).
fn text(raw: ValueRef<'_>) -> Result<String, String> {
    match raw {
        ValueRef::Text(t) => String::from_utf8(t.to_vec()).map_err(|e| e.to_string()),
        _ => Err("not text".into()),
    }
}

/// The time-of-day formats sqlx-sqlite reads.
const TIME_FORMATS: [&str; 7] = ["%T.f", "%T%.f", "%R", "%RZ", "%T%.fZ", "%R%:z", "%T%.f%:z"];

/// A time of day in one of [`TIME_FORMATS`].
fn time(text: &str) -> Result<NaiveTime, String> {
    TIME_FORMATS
        .iter()
        .find_map(|format| NaiveTime::parse_from_str(text, format).ok())
        .ok_or_else(|| format!("invalid time: {text}"))
}

/// The date and time formats sqlx-sqlite reads besides RFC 3339: SQLite's own, with or
/// without a zone.
const DATETIME_FORMATS: [&str; 12] = [
    "%F %T%.f",
    "%F %R",
    "%F %RZ",
    "%F %R%:z",
    "%F %T%.fZ",
    "%F %T%.f%:z",
    "%FT%R",
    "%FT%RZ",
    "%FT%R%:z",
    "%FT%T%.f",
    "%FT%T%.fZ",
    "%FT%T%.f%:z",
];

/// A point in time as sqlx-sqlite reads one: RFC 3339 or one of SQLite's formats (text), Unix
/// seconds (integer) or a Julian day number (real).
fn datetime(raw: ValueRef<'_>) -> Result<DateTime<FixedOffset>, String> {
    let utc = Utc.fix();
    let found = match raw {
        ValueRef::Text(t) => {
            let t = std::str::from_utf8(t).map_err(|e| e.to_string())?;
            DateTime::parse_from_rfc3339(t).ok().or_else(|| {
                DATETIME_FORMATS.iter().find_map(|format| {
                    DateTime::parse_from_str(t, format).ok().or_else(|| {
                        NaiveDateTime::parse_from_str(t, format)
                            .ok()
                            .map(|d| utc.from_utc_datetime(&d))
                    })
                })
            })
        }
        ValueRef::Integer(seconds) => utc.timestamp_opt(seconds, 0).single(),
        ValueRef::Real(julian) => {
            let seconds = (julian - 2_440_587.5) * 86_400.0;
            if seconds.is_finite() {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                utc.timestamp_opt(seconds.trunc() as i64, (seconds.fract() * 1e9).abs() as u32)
                    .single()
            } else {
                None
            }
        }
        _ => None,
    };
    found.ok_or_else(|| "not a date and time".into())
}

/// `value` bound as sqlx-sqlite binds it (sea-query-sqlx's arguments); `None` for a value
/// the reader does not bind (the pool runs the statement).
pub(super) fn bind(value: &Value) -> Option<Sql> {
    fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> Sql) -> Sql {
        v.map_or(Sql::Null, f)
    }
    fn rfc3339<Tz: TimeZone>(t: DateTime<Tz>) -> Sql
    where
        Tz::Offset: std::fmt::Display,
    {
        Sql::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
    }
    Some(match value {
        Value::Bool(v) => or_null(*v, |b| Sql::Integer(i64::from(b))),
        Value::TinyInt(v) => or_null(*v, |i| Sql::Integer(i64::from(i))),
        Value::SmallInt(v) => or_null(*v, |i| Sql::Integer(i64::from(i))),
        Value::Int(v) => or_null(*v, |i| Sql::Integer(i64::from(i))),
        Value::BigInt(v) => or_null(*v, Sql::Integer),
        Value::TinyUnsigned(v) => or_null(*v, |i| Sql::Integer(i64::from(i))),
        Value::SmallUnsigned(v) => or_null(*v, |i| Sql::Integer(i64::from(i))),
        Value::Unsigned(v) => or_null(*v, |i| Sql::Integer(i64::from(i))),
        // sea-query's LIMIT and OFFSET.
        Value::BigUnsigned(Some(i)) => Sql::Integer(i64::try_from(*i).ok()?),
        Value::BigUnsigned(None) => Sql::Null,
        Value::Float(v) => or_null(*v, |f| Sql::Real(f64::from(f))),
        Value::Double(v) => or_null(*v, Sql::Real),
        Value::String(v) => or_null(v.clone(), Sql::Text),
        Value::Char(v) => or_null(*v, |c| Sql::Text(c.to_string())),
        Value::Enum(sea_orm::sea_query::OptionEnum::Some(e)) => Sql::Text(e.value.to_string()),
        Value::Enum(sea_orm::sea_query::OptionEnum::None(_)) => Sql::Null,
        Value::Bytes(v) => or_null(v.clone(), Sql::Blob),
        Value::Uuid(v) => or_null(*v, |u| Sql::Blob(u.as_bytes().to_vec())),
        Value::ChronoDateTimeUtc(v) => or_null(*v, rfc3339),
        Value::ChronoDateTimeLocal(v) => or_null(*v, rfc3339),
        Value::ChronoDateTimeWithTimeZone(v) => or_null(*v, rfc3339),
        Value::ChronoDateTime(v) => or_null(*v, |t| Sql::Text(t.format("%F %T%.f").to_string())),
        Value::ChronoDate(v) => or_null(*v, |d| Sql::Text(d.format("%F").to_string())),
        Value::ChronoTime(v) => or_null(*v, |t| Sql::Text(t.format("%T%.f").to_string())),
        Value::Decimal(v) => or_null(*v, |d| Sql::Text(d.to_string())),
        Value::Json(Some(json)) => Sql::Text(serde_json::to_string(json).ok()?),
        Value::Json(None) => Sql::Null,
        _ => return None,
    })
}

/// The `REGEXP` function, as sqlx registers it: `subject REGEXP pattern` calls
/// `regexp(pattern, subject)`; the pattern is compiled once per statement (an invalid one
/// fails the statement), `NULL` when either argument is. A number is matched as its text
/// (a real number as Rust writes it, which may differ from SQLite's `%!.15g`).
pub(super) fn register_regexp(db: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    fn text(value: ValueRef<'_>) -> Result<Option<std::borrow::Cow<'_, str>>, BoxError> {
        Ok(Some(match value {
            ValueRef::Null => return Ok(None),
            ValueRef::Integer(i) => i.to_string().into(),
            ValueRef::Real(f) => f.to_string().into(),
            ValueRef::Text(t) | ValueRef::Blob(t) => std::str::from_utf8(t)?.into(),
        }))
    }
    db.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            if ctx.get_raw(0) == ValueRef::Null {
                return Ok(None);
            }
            let regex = ctx.get_or_create_aux(0, |pattern| -> Result<regex::Regex, BoxError> {
                let pattern = text(pattern)?.unwrap_or_default();
                Ok(regex::Regex::new(&pattern)?)
            })?;
            let subject = text(ctx.get_raw(1)).map_err(rusqlite::Error::UserFunctionError)?;
            Ok(subject.map(|subject| regex.is_match(&subject)))
        },
    )
}

/// What the tests of the SQLite connections share.
#[cfg(test)]
pub(super) mod testing {
    use super::{Decode, query_err};
    use sea_orm::DbErr;

    /// The first column as an integer, negative ones included.
    pub(in crate::db) struct Int;

    impl Decode for Int {
        type Out = i64;
        type Plan = ();

        fn plan(&self, _: &rusqlite::Statement<'_>) -> Option<()> {
            Some(())
        }

        fn row(&self, (): &(), row: &rusqlite::Row<'_>) -> Result<i64, DbErr> {
            row.get(0).map_err(query_err)
        }
    }

    /// Removes the SQLite file at `path`, its log and its shared memory.
    pub(in crate::db) fn remove(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_sqlx_writes_them() {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 3, 5, 16, 45)
            .single()
            .unwrap()
            + chrono::Duration::microseconds(123_456);
        let Some(Sql::Text(written)) = bind(&Value::ChronoDateTimeUtc(Some(t))) else {
            panic!("text")
        };
        assert_eq!(
            datetime(ValueRef::Text(written.as_bytes())).unwrap(),
            t.fixed_offset()
        );
        let sqlite_default = "2026-12-03 05:16:45";
        assert_eq!(
            datetime(ValueRef::Text(sqlite_default.as_bytes())).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 3, 5, 16, 45)
                .single()
                .unwrap()
        );
        assert_eq!(
            datetime(ValueRef::Integer(0)).unwrap(),
            Utc.timestamp_opt(0, 0).single().unwrap().fixed_offset()
        );
        assert!(datetime(ValueRef::Text(b"yesterday")).is_err());
    }

    #[test]
    fn uuids_are_blobs_both_ways() {
        let id = uuid::Uuid::new_v4();
        let Some(Sql::Blob(bytes)) = bind(&Value::Uuid(Some(id))) else {
            panic!("blob")
        };
        assert_eq!(
            Kind::Uuid.decode(ValueRef::Blob(&bytes)).unwrap(),
            Value::Uuid(Some(id))
        );
        assert_eq!(
            Kind::Uuid.decode(ValueRef::Null).unwrap(),
            Value::Uuid(None)
        );
        assert!(Kind::Uuid.decode(ValueRef::Blob(b"short")).is_err());
    }

    #[test]
    fn numbers_read_as_sqlite_converts_them() {
        assert_eq!(
            Kind::Int.decode(ValueRef::Integer(7)).unwrap(),
            Value::Int(Some(7))
        );
        assert_eq!(
            Kind::Double.decode(ValueRef::Integer(2)).unwrap(),
            Value::Double(Some(2.0))
        );
        assert_eq!(
            Kind::Decimal.decode(ValueRef::Text(b"12.5")).unwrap(),
            Value::Decimal(Some(rust_decimal::Decimal::new(125, 1)))
        );
        assert_eq!(
            Kind::Bool.decode(ValueRef::Integer(1)).unwrap(),
            Value::Bool(Some(true))
        );
        assert!(Kind::BigInt.decode(ValueRef::Text(b"many")).is_err());
    }
}
