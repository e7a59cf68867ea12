//! Role inheritance: [`RoleHierarchy`], the roles each role includes, declared once for the app.

use std::collections::BTreeMap;

/// Which roles include which others (`admin` ⊇ `editor` ⊇ `member`), declared once on
/// [`Auth`](super::Auth) instead of in every rule: a caller with `admin` then passes
/// `roles("editor")`, sees fields `visible_to("editor")` and writes those `writable_by("editor")`.
///
/// Platform roles and roles in the active organization are expanded each on their own, so an
/// organization's `admin` gains the organization's `editor`, never a platform role. The roles
/// implied are kept apart from those given ([`AuthContext::implied_roles`](super::AuthContext)):
/// every rule counts both, except `redact_for`, which masks by given roles only, so an admin
/// whose role includes `intern` does not read what interns read masked.
///
/// ```
/// use arc_runtime::RoleHierarchy;
/// let roles = RoleHierarchy::new()
///     .chain(["admin", "editor", "member"])
///     .includes("billing_admin", ["billing"]);
/// assert_eq!(roles.implied(&["admin".to_owned()]), ["editor", "member"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "a hierarchy does nothing until it is given to `Auth::role_hierarchy`"]
pub struct RoleHierarchy {
    /// Each role and the roles it directly includes, in the order declared.
    includes: BTreeMap<String, Vec<String>>,
}

impl RoleHierarchy {
    /// No role includes another.
    pub fn new() -> Self {
        Self::default()
    }

    /// `role` includes each of `roles` (and, through them, whatever they include).
    pub fn includes<'a>(mut self, role: &str, roles: impl IntoIterator<Item = &'a str>) -> Self {
        let direct = self.includes.entry(role.to_owned()).or_default();
        for included in roles {
            if included != role && !direct.iter().any(|r| r == included) {
                direct.push(included.to_owned());
            }
        }
        self
    }

    /// Each role of `chain` includes the next: `["admin", "editor", "member"]` is
    /// `admin` ⊇ `editor` ⊇ `member`.
    pub fn chain<'a>(mut self, chain: impl IntoIterator<Item = &'a str>) -> Self {
        let chain: Vec<&str> = chain.into_iter().collect();
        for pair in chain.windows(2) {
            self = self.includes(pair[0], [pair[1]]);
        }
        self
    }

    /// Whether no role includes another.
    pub fn is_empty(&self) -> bool {
        self.includes.values().all(Vec::is_empty)
    }

    /// The roles `given` include, directly or not, that are not among them, each once, in
    /// the order met. A cycle (`a` ⊇ `b` ⊇ `a`) makes its roles equal, nothing worse.
    pub fn implied(&self, given: &[String]) -> Vec<String> {
        let mut implied: Vec<String> = Vec::new();
        let mut next = 0;
        loop {
            let role = match given.get(next) {
                Some(role) => role,
                None => match implied.get(next - given.len()) {
                    Some(role) => role,
                    None => return implied,
                },
            };
            if let Some(direct) = self.includes.get(role) {
                let new: Vec<String> = direct
                    .iter()
                    .filter(|r| !given.contains(r) && !implied.contains(r))
                    .cloned()
                    .collect();
                implied.extend(new);
            }
            next += 1;
        }
    }

    /// Every role and all it includes, directly or not: `{"admin": ["editor", "member"]}`,
    /// for the registry.
    pub fn describe(&self) -> BTreeMap<String, Vec<String>> {
        self.includes
            .keys()
            .filter_map(|role| {
                let all = self.implied(std::slice::from_ref(role));
                (!all.is_empty()).then(|| (role.clone(), all))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `roles` and those they imply.
    fn expanded(h: &RoleHierarchy, roles: &[&str]) -> Vec<String> {
        let mut roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        let implied = h.implied(&roles);
        roles.extend(implied);
        roles
    }

    #[test]
    fn roles_gain_what_they_include_transitively_once() {
        let h = RoleHierarchy::new()
            .chain(["admin", "editor", "member"])
            .includes("owner", ["admin", "billing"]);
        assert_eq!(expanded(&h, &["member"]), ["member"]);
        assert_eq!(expanded(&h, &["editor"]), ["editor", "member"]);
        assert_eq!(
            expanded(&h, &["owner"]),
            ["owner", "admin", "billing", "editor", "member"]
        );
        assert_eq!(
            expanded(&h, &["member", "admin"]),
            ["member", "admin", "editor"]
        );
        assert_eq!(expanded(&h, &["guest"]), ["guest"]);
        assert!(h.implied(&["editor".into(), "member".into()]).is_empty());
        assert!(h.implied(&[]).is_empty());
    }

    #[test]
    fn cycles_and_self_inclusion_end() {
        let h = RoleHierarchy::new()
            .chain(["a", "b", "c", "a"])
            .includes("d", ["d"]);
        assert_eq!(expanded(&h, &["b"]), ["b", "c", "a"]);
        assert_eq!(expanded(&h, &["d"]), ["d"]);
        assert!(RoleHierarchy::new().includes("d", ["d"]).is_empty());
    }

    #[test]
    fn the_description_lists_every_included_role() {
        let h = RoleHierarchy::new().chain(["admin", "editor", "member"]);
        let described = h.describe();
        assert_eq!(described["admin"], ["editor", "member"]);
        assert_eq!(described["editor"], ["member"]);
        assert!(!described.contains_key("member"));
    }
}
