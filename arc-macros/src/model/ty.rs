//! Field types: which Rust types a resource field may have, and what each one is.

use syn::{GenericArgument, PathArguments, Type};

/// The value type of a field, without `Option`.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    Uuid,
    String,
    I32,
    I64,
    F64,
    Bool,
    DateTime,
    Decimal,
    Json,
    /// A user enum deriving `arc_runtime::Enum`, stored as text.
    Enum(Box<Type>),
}

impl Scalar {
    pub(crate) fn is_string(&self) -> bool {
        matches!(self, Scalar::String)
    }

    pub(crate) fn is_numeric(&self) -> bool {
        matches!(
            self,
            Scalar::I32 | Scalar::I64 | Scalar::F64 | Scalar::Decimal
        )
    }
}

/// A classified field type.
#[derive(Debug, Clone)]
pub(crate) struct FieldTy {
    pub scalar: Scalar,
    pub nullable: bool,
}

pub(crate) const SUPPORTED: &str = "Uuid, String, i32, i64, f64, bool, DateTime<Utc>, Decimal, \
    serde_json::Value, an enum deriving `arc_runtime::Enum`, or Option<T> of these";

/// Classifies `ty`, or says why it is not a supported field type.
pub(crate) fn classify(ty: &Type) -> Result<FieldTy, String> {
    if let Some(inner) = generic_arg(ty, "Option") {
        let inner = classify_scalar(inner)?;
        return Ok(FieldTy {
            scalar: inner,
            nullable: true,
        });
    }
    Ok(FieldTy {
        scalar: classify_scalar(ty)?,
        nullable: false,
    })
}

fn unsupported(ty: &Type) -> String {
    let text = quote::quote!(#ty).to_string().replace(' ', "");
    format!("unsupported field type `{text}`; a resource field is one of: {SUPPORTED}")
}

fn classify_scalar(ty: &Type) -> Result<Scalar, String> {
    let Type::Path(path) = ty else {
        return Err(unsupported(ty));
    };
    if path.qself.is_some() {
        return Err(unsupported(ty));
    }
    let Some(last) = path.path.segments.last() else {
        return Err(unsupported(ty));
    };
    let name = last.ident.to_string();
    if name == "DateTime" {
        return match generic_arg(ty, "DateTime") {
            Some(Type::Path(tz)) if tz.path.segments.last().is_some_and(|s| s.ident == "Utc") => {
                Ok(Scalar::DateTime)
            }
            _ => Err("unsupported field type: times are `DateTime<Utc>`".into()),
        };
    }
    if !matches!(last.arguments, PathArguments::None) {
        return Err(unsupported(ty));
    }
    let in_serde_json = path.path.segments.iter().any(|s| s.ident == "serde_json");
    Ok(match name.as_str() {
        "Uuid" => Scalar::Uuid,
        "String" => Scalar::String,
        "i32" => Scalar::I32,
        "i64" => Scalar::I64,
        "f64" => Scalar::F64,
        "bool" => Scalar::Bool,
        "Decimal" => Scalar::Decimal,
        "Json" => Scalar::Json,
        "Value" if in_serde_json => Scalar::Json,
        "Option" | "Vec" | "Box" | "HashMap" | "BTreeMap" | "i8" | "i16" | "i128" | "u8"
        | "u16" | "u32" | "u64" | "u128" | "usize" | "isize" | "f32" | "char" | "str"
        | "NaiveDateTime" | "NaiveDate" => return Err(unsupported(ty)),
        _ => Scalar::Enum(Box::new(ty.clone())),
    })
}

/// `T` of `Name<T>`, when `ty` is `Name<T>` (by last path segment).
fn generic_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}
