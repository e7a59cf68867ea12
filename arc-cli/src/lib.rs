//! The scaffolding behind the `arc` binary: a new project ([`new_project`]) and a new
//! resource in an existing one ([`generate_resource`]). Files come from the templates in
//! [`templates`]; nothing is overwritten.

// Library code answers errors; its unit tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod templates;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What went wrong, said so the user can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The project or resource name cannot be used.
    #[error("{0:?} is not a usable name: {1}")]
    BadName(String, &'static str),
    /// A `name:type` argument is malformed.
    #[error("{0:?}: {1}")]
    BadField(String, String),
    /// A file or directory would be overwritten.
    #[error("{0} already exists; nothing was changed")]
    Exists(PathBuf),
    /// The current directory is not a project `arc new` made.
    #[error("{0}: {1}")]
    NotAProject(PathBuf, &'static str),
    /// Reading or writing a file failed.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

type Result<T> = std::result::Result<T, ScaffoldError>;

/// The arc-rs checkout this binary was built from (its `arc-runtime` becomes the new
/// project's path dependency).
pub fn default_arc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
    "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A snake_case identifier: starts with a letter, then letters, digits and `_`.
fn check_ident(name: &str, what: &'static str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(ScaffoldError::BadName(name.to_owned(), what));
    }
    if KEYWORDS.contains(&name) {
        return Err(ScaffoldError::BadName(name.to_owned(), "a Rust keyword"));
    }
    Ok(())
}

/// `line_item` → `LineItem`: the type name `#[resource]` derives its names from (the same
/// helper the macro and the runtime use).
pub fn pascal(name: &str) -> String {
    arc_spec::names::to_pascal(name)
}

/// The value type of a generated field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A short string (at most 200 characters), filtered, sorted and searched.
    String,
    /// A long string (at most 10000 characters).
    Text,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f64`.
    F64,
    /// `bool`.
    Bool,
    /// `Uuid`.
    Uuid,
    /// `DateTime<Utc>`.
    DateTime,
    /// `Decimal`.
    Decimal,
    /// `Json`.
    Json,
}

impl FieldKind {
    const NAMES: &'static str =
        "string, text, i32, i64 (int), f64 (float), bool, uuid, datetime, decimal, json";

    fn parse(s: &str) -> Option<FieldKind> {
        Some(match s {
            "string" | "str" => FieldKind::String,
            "text" => FieldKind::Text,
            "i32" => FieldKind::I32,
            "i64" | "int" | "integer" => FieldKind::I64,
            "f64" | "float" | "number" => FieldKind::F64,
            "bool" | "boolean" => FieldKind::Bool,
            "uuid" => FieldKind::Uuid,
            "datetime" | "timestamp" => FieldKind::DateTime,
            "decimal" => FieldKind::Decimal,
            "json" => FieldKind::Json,
            _ => return None,
        })
    }

    fn rust(self) -> &'static str {
        match self {
            FieldKind::String | FieldKind::Text => "String",
            FieldKind::I32 => "i32",
            FieldKind::I64 => "i64",
            FieldKind::F64 => "f64",
            FieldKind::Bool => "bool",
            FieldKind::Uuid => "Uuid",
            FieldKind::DateTime => "DateTime<Utc>",
            FieldKind::Decimal => "Decimal",
            FieldKind::Json => "Json",
        }
    }
}

/// One `name:type` argument of `arc generate resource` (`?` after the type: optional).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Its type.
    pub kind: FieldKind,
    /// `Option<T>`.
    pub optional: bool,
}

/// Fields every generated resource has.
const RESERVED: [&str; 3] = ["id", "created_at", "updated_at"];

impl FromStr for Field {
    type Err = ScaffoldError;

    fn from_str(arg: &str) -> Result<Field> {
        let bad = |why: String| ScaffoldError::BadField(arg.to_owned(), why);
        let (name, ty) = arg
            .split_once(':')
            .ok_or_else(|| bad("expected name:type, e.g. title:string".to_owned()))?;
        check_ident(name, "field names are snake_case").map_err(|e| bad(e.to_string()))?;
        if RESERVED.contains(&name) {
            return Err(bad(format!("`{name}` is added to every resource already")));
        }
        let (ty, optional) = match ty.strip_suffix('?') {
            Some(ty) => (ty, true),
            None => (ty, false),
        };
        let kind = FieldKind::parse(ty)
            .ok_or_else(|| bad(format!("unknown type `{ty}`; one of {}", FieldKind::NAMES)))?;
        Ok(Field {
            name: name.to_owned(),
            kind,
            optional,
        })
    }
}

fn write_new(path: &Path, contents: &str) -> Result<()> {
    if path.exists() {
        return Err(ScaffoldError::Exists(path.to_owned()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ScaffoldError::Io(parent.to_owned(), e))?;
    }
    std::fs::write(path, contents).map_err(|e| ScaffoldError::Io(path.to_owned(), e))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| ScaffoldError::Io(path.to_owned(), e))
}

/// Creates the project `name` in `dir` (which must not exist), depending on the
/// `arc-runtime` of the arc-rs checkout at `arc_path`. Returns the files it wrote.
pub fn new_project(dir: &Path, name: &str, arc_path: &Path) -> Result<Vec<PathBuf>> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(ScaffoldError::BadName(
            name.to_owned(),
            "project names are lowercase letters, digits, `-` and `_`, starting with a letter",
        ));
    }
    let krate = name.replace('-', "_");
    check_ident(
        &krate,
        "project names are lowercase letters, digits, `-` and `_`",
    )?;
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_owned()));
    }
    let runtime = arc_path.join("arc-runtime");
    if !runtime.join("Cargo.toml").exists() {
        return Err(ScaffoldError::NotAProject(
            runtime,
            "no arc-runtime there: pass --arc-path with an arc-rs checkout",
        ));
    }
    let kit = arc_path.join("arc-test");
    if !kit.join("Cargo.toml").exists() {
        return Err(ScaffoldError::NotAProject(
            kit,
            "no arc-test there (the test kit the project's tests use): pass --arc-path with an arc-rs checkout",
        ));
    }
    let path_of = |path: PathBuf| path.display().to_string().replace('\\', "/");
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &krate)
            .replace("{{runtime}}", &path_of(runtime.clone()))
            .replace("{{test_kit}}", &path_of(kit.clone()))
    };
    let files = [
        ("Cargo.toml", templates::CARGO_TOML),
        (".gitignore", templates::GITIGNORE),
        ("README.md", templates::README),
        ("src/main.rs", templates::MAIN_RS),
        ("src/lib.rs", templates::LIB_RS),
        ("src/resources/mod.rs", templates::RESOURCES_MOD),
        ("src/resources/note.rs", templates::NOTE_RS),
        ("tests/api.rs", templates::API_TEST),
    ];
    let mut written = Vec::new();
    for (file, template) in files {
        let path = dir.join(file);
        write_new(&path, &fill(template))?;
        written.push(path);
    }
    Ok(written)
}

/// The source of the resource `name` with `fields`.
pub fn resource_source(name: &str, fields: &[Field]) -> String {
    let ty = pascal(name);
    let pick = |keep: fn(&Field) -> bool| -> Vec<&str> {
        fields
            .iter()
            .filter(|f| keep(f))
            .map(|f| f.name.as_str())
            .collect()
    };
    let mut filter = pick(|f| !matches!(f.kind, FieldKind::Text | FieldKind::Json));
    filter.push("created_at");
    let mut sort = pick(|f| {
        matches!(
            f.kind,
            FieldKind::String
                | FieldKind::I32
                | FieldKind::I64
                | FieldKind::F64
                | FieldKind::DateTime
                | FieldKind::Decimal
        )
    });
    sort.push("created_at");
    let search = pick(|f| f.kind == FieldKind::String);
    let mut query = vec![
        format!("filter = [{}]", filter.join(", ")),
        format!("sort = [{}]", sort.join(", ")),
    ];
    if !search.is_empty() {
        query.push(format!("search = [{}]", search.join(", ")));
    }
    let query = query.join(",\n    ");
    let mut body = String::new();
    for f in fields {
        let rule = match (f.kind, f.optional) {
            (FieldKind::String, false) => "    #[field(min_len = 1, max_len = 200)]\n",
            (FieldKind::String, true) => "    #[field(max_len = 200)]\n",
            (FieldKind::Text, _) => "    #[field(max_len = 10000)]\n",
            (FieldKind::Bool, false) => "    #[field(default)]\n",
            _ => "",
        };
        let rust = if f.optional {
            format!("Option<{}>", f.kind.rust())
        } else {
            f.kind.rust().to_owned()
        };
        let _ = writeln!(body, "{rule}    pub {}: {rust},", f.name);
    }
    templates::RESOURCE_RS
        .replace("{{Type}}", &ty)
        .replace("{{name}}", name)
        .replace("{{query}}", &query)
        .replace("{{fields}}", &body)
}

/// Writes `src/resources/<name>.rs` in the project at `root`, declares it in
/// `src/resources/mod.rs` and mounts it in `src/lib.rs`. Returns the files it wrote.
pub fn generate_resource(root: &Path, name: &str, fields: &[Field]) -> Result<Vec<PathBuf>> {
    check_ident(
        name,
        "resource names are singular snake_case, e.g. line_item",
    )?;
    let mut seen = std::collections::HashSet::new();
    for f in fields {
        if !seen.insert(f.name.as_str()) {
            return Err(ScaffoldError::BadField(
                f.name.clone(),
                "given twice".to_owned(),
            ));
        }
    }
    let lib = root.join("src/lib.rs");
    let module = root.join("src/resources/mod.rs");
    let lib_text = read(&lib)?;
    if !lib_text.contains(templates::MOUNT_MARKER) {
        return Err(ScaffoldError::NotAProject(
            lib,
            "no `// arc: resources` line to mount the resource after (was it made by `arc new`?)",
        ));
    }
    let module_text = read(&module)?;
    let declaration = format!("pub mod {name};");
    if module_text.lines().any(|l| l.trim() == declaration) {
        return Err(ScaffoldError::Exists(
            root.join(format!("src/resources/{name}.rs")),
        ));
    }
    let file = root.join(format!("src/resources/{name}.rs"));
    write_new(&file, &resource_source(name, fields))?;
    let ty = pascal(name);
    let module_text = format!(
        "{}{declaration}\npub use {name}::{ty};\n",
        ensure_newline(&module_text)
    );
    std::fs::write(&module, module_text).map_err(|e| ScaffoldError::Io(module.clone(), e))?;
    let mut out = String::new();
    for line in lib_text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.trim() == templates::MOUNT_MARKER {
            let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
            let _ = writeln!(out, "{indent}.resource::<resources::{ty}>()");
        }
    }
    std::fs::write(&lib, out).map_err(|e| ScaffoldError::Io(lib.clone(), e))?;
    Ok(vec![file, module, lib])
}

fn ensure_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_and_refuse() {
        let f: Field = "price:decimal?".parse().unwrap();
        assert_eq!(
            f,
            Field {
                name: "price".into(),
                kind: FieldKind::Decimal,
                optional: true
            }
        );
        for (bad, says) in [
            ("price", "name:type"),
            ("price:money", "unknown type `money`"),
            ("Price:i64", "snake_case"),
            ("id:uuid", "already"),
            ("type:string", "keyword"),
        ] {
            let e = bad.parse::<Field>().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_resource_source_declares_fields_and_query() {
        let fields: Vec<Field> = ["title:string", "body:text?", "pages:i32", "meta:json?"]
            .iter()
            .map(|f| f.parse().unwrap())
            .collect();
        let src = resource_source("line_item", &fields);
        assert!(src.contains("pub struct LineItem {"), "{src}");
        assert!(src.contains("filter = [title, pages, created_at]"), "{src}");
        assert!(src.contains("search = [title]"), "{src}");
        assert!(src.contains("    #[field(max_len = 10000)]\n    pub body: Option<String>,"));
        assert!(src.contains("    pub meta: Option<Json>,"));
    }
}
