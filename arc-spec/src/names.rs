//! Naming: the snake, plural and Pascal forms derived from a type's or a field's name, the
//! same in the expansion (entity module, table, path, column variants) and in the runtime
//! (the document's component names).

/// The path parameter that names the organization a `multi_tenant` resource's rows belong
/// to, as arc names it: `#[resource(path = "/organizations/{orgId}/members")]`. It selects
/// the active organization as `x-organization-id` does.
pub const ORG_PARAM: &str = "orgId";

/// [`ORG_PARAM`] as a path segment: `{orgId}`.
pub const ORG_SEGMENT: &str = "{orgId}";

/// `ProductCategory` -> `product_category`.
pub fn to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, ch) in s.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `category` -> `categories`, `box` -> `boxes`, `product` -> `products`.
pub fn pluralize(s: &str) -> String {
    if let Some(stem) = s.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    if s.ends_with(['s', 'x', 'z']) || s.ends_with("ch") || s.ends_with("sh") {
        return format!("{s}es");
    }
    format!("{s}s")
}

/// `category_id` -> `CategoryId`, `line-item` -> `LineItem`: words split at `_` and `-`,
/// each capitalized (sea-orm's column variant names, the document's component names).
pub fn to_pascal(s: &str) -> String {
    s.split(['_', '-'])
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(to_snake("ProductCategory"), "product_category");
        assert_eq!(pluralize("category"), "categories");
        assert_eq!(pluralize("key"), "keys");
        assert_eq!(pluralize("box"), "boxes");
        assert_eq!(pluralize("order"), "orders");
        assert_eq!(to_pascal("category_id"), "CategoryId");
        assert_eq!(to_pascal("line-item"), "LineItem");
        assert_eq!(to_pascal("a__b_"), "AB");
    }
}
