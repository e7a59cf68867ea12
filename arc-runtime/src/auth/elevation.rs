//! Platform elevation: [`Elevation`], which platform roles may send `x-arc-scope: platform`
//! to act across organizations, and the check that turns such a request's caller into an
//! elevated one.
//!
//! Elevation is explicit per request (arc's `x-arc-scope: platform`): a caller with the role
//! who does not send the header is an ordinary caller, and a caller without it who sends
//! the header is refused, never quietly served as themselves. What an elevated caller may do
//! is in [`AuthContext::elevated`]; every elevated request is in the audit trail before it
//! runs (`audit::elevation`).

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::http::request::Parts;

use super::AuthContext;
use super::layer::{ORG_HEADER, org_named};
use crate::error::{ArcError, ErrorCode};

/// The header that asks for elevation; its one value is [`PLATFORM`].
pub(crate) const SCOPE_HEADER: &str = "x-arc-scope";

/// The value of [`SCOPE_HEADER`] that elevates.
pub(crate) const PLATFORM: &str = "platform";

/// The header that says why, recorded with the elevation.
pub(crate) const REASON_HEADER: &str = "x-arc-reason";

/// The longest reason kept, in bytes.
pub(crate) const MAX_REASON: usize = 500;

/// Who may act across organizations: callers with one of these platform roles (given or
/// implied by the [`RoleHierarchy`](super::RoleHierarchy)), on the requests where they send
/// `x-arc-scope: platform`. Given to [`Auth::elevation`](super::Auth::elevation).
///
/// ```
/// use arc_runtime::config::{Auth, Elevation};
/// let auth = Auth::new().elevation(Elevation::roles(["superadmin"]));
/// # let _ = auth;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "an elevation does nothing until it is given to `Auth::elevation`"]
pub struct Elevation {
    roles: Vec<String>,
}

impl Elevation {
    /// Callers with one of `roles` (platform roles, claim `roles`) may elevate.
    pub fn roles<'a>(roles: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            roles: roles.into_iter().map(str::to_owned).collect(),
        }
    }

    /// The platform roles that may elevate.
    pub fn platform_roles(&self) -> &[String] {
        &self.roles
    }
}

/// Elevates the caller of a request that sends `x-arc-scope`, or refuses it: 401
/// `ELEVATION_AUTH_REQUIRED` for an anonymous caller (whatever the headers say), 400 for
/// another value than `platform`, an empty or long `x-organization-id` or a reason that is
/// not one line of at most [`MAX_REASON`] bytes, 403 `ELEVATION_FORBIDDEN` when the app
/// has no [`Elevation`] or the caller none of its roles.
///
/// The elevated caller acts in the organization `x-organization-id` names (whether or not
/// they belong to it), or in none (across every organization); roles and the team of the
/// token's own organization do not carry over.
pub(super) fn elevate(
    context: &mut Arc<AuthContext>,
    parts: &Parts,
    elevation: Option<&Elevation>,
) -> Result<(), ArcError> {
    let Some(value) = parts.headers.get(SCOPE_HEADER) else {
        return Ok(());
    };
    if !context.is_authenticated() {
        return Err(ArcError::new(
            ErrorCode::ElevationAuthRequired,
            "Authentication is required for platform elevation",
        ));
    }
    if value.as_bytes() != PLATFORM.as_bytes() {
        return Err(ArcError::bad_request(format!(
            "{SCOPE_HEADER} takes one value: {PLATFORM}"
        )));
    }
    let org = parts.headers.get(ORG_HEADER).map(org_named).transpose()?;
    if let Some(reason) = parts.headers.get(REASON_HEADER) {
        reason_of(reason)?;
    }
    let allowed = elevation.is_some_and(|e| e.roles.iter().any(|r| context.has_platform_role(r)));
    if !allowed {
        return Err(ArcError::new(
            ErrorCode::ElevationForbidden,
            "Insufficient privileges for platform elevation",
        ));
    }
    let context = Arc::make_mut(context);
    context.elevated = true;
    context.org_id = org.map(str::to_owned);
    context.org_roles.clear();
    context.implied_org_roles.clear();
    context.team_id = None;
    Ok(())
}

/// The reason an elevated request gives: printable ASCII (spaces allowed), at most
/// [`MAX_REASON`] bytes (400 otherwise). Nothing that could make an entry read otherwise
/// than it was written (control or bidirectional characters).
pub(crate) fn reason_of(value: &HeaderValue) -> Result<&str, ArcError> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_REASON || !bytes.iter().all(|b| (0x20..=0x7E).contains(b)) {
        return Err(ArcError::bad_request(format!(
            "{REASON_HEADER} is printable ASCII of at most {MAX_REASON} bytes"
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ArcError::bad_request(e.to_string()))?;
    Ok(text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &[u8])]) -> Parts {
        let mut request = axum::http::Request::builder();
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_bytes(value).expect("value"));
        }
        request.body(()).expect("request").into_parts().0
    }

    fn caller(roles: &[&str]) -> Arc<AuthContext> {
        Arc::new(AuthContext {
            user_id: Some("root".into()),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            org_id: Some("acme".into()),
            org_roles: vec!["admin".into()],
            implied_org_roles: vec!["editor".into()],
            orgs: vec!["acme".into()],
            team_id: Some("red".into()),
            ..AuthContext::default()
        })
    }

    fn superadmin() -> Elevation {
        Elevation::roles(["superadmin"])
    }

    fn code(
        context: &mut Arc<AuthContext>,
        headers: &[(&str, &[u8])],
        elevation: Option<&Elevation>,
    ) -> ErrorCode {
        elevate(context, &parts(headers), elevation)
            .expect_err("refused")
            .code()
    }

    #[test]
    fn no_header_changes_nothing() {
        let mut context = caller(&["superadmin"]);
        let before = context.clone();
        elevate(&mut context, &parts(&[]), Some(&superadmin())).expect("no header");
        assert_eq!(context, before);
    }

    #[test]
    fn an_anonymous_caller_is_asked_to_authenticate_first() {
        for value in [&b"platform"[..], b"", b"org"] {
            let mut anonymous = Arc::new(AuthContext::anonymous());
            let got = code(
                &mut anonymous,
                &[(SCOPE_HEADER, value)],
                Some(&superadmin()),
            );
            assert_eq!(got, ErrorCode::ElevationAuthRequired, "{value:?}");
        }
    }

    #[test]
    fn bad_headers_are_400s() {
        for headers in [
            vec![(SCOPE_HEADER, &b"Platform"[..])],
            vec![(SCOPE_HEADER, b"platform ")],
            vec![(SCOPE_HEADER, b"")],
            vec![(SCOPE_HEADER, b"platform"), (ORG_HEADER, b" ")],
            vec![(SCOPE_HEADER, b"platform"), (ORG_HEADER, &[b'x'; 129])],
            vec![(SCOPE_HEADER, b"platform"), (REASON_HEADER, &[b'x'; 501])],
            vec![(SCOPE_HEADER, b"platform"), (REASON_HEADER, b"\xff\xfe")],
            vec![(SCOPE_HEADER, b"platform"), (REASON_HEADER, b"a\tb")],
            vec![
                (SCOPE_HEADER, b"platform"),
                (REASON_HEADER, "\u{202e}gnp".as_bytes()),
            ],
        ] {
            let mut context = caller(&["superadmin"]);
            let got = code(&mut context, &headers, Some(&superadmin()));
            assert_eq!(got, ErrorCode::BadRequest, "{headers:?}");
        }
    }

    #[test]
    fn only_a_configured_platform_role_elevates() {
        let platform = [(SCOPE_HEADER, &b"platform"[..])];
        for (roles, elevation) in [
            (&["superadmin"][..], None),
            (&["admin"][..], Some(superadmin())),
            (&[][..], Some(superadmin())),
        ] {
            let mut context = caller(roles);
            let got = code(&mut context, &platform, elevation.as_ref());
            assert_eq!(got, ErrorCode::ElevationForbidden, "{roles:?}");
        }
        // An org role of the same name is no platform role.
        let mut org_superadmin = caller(&[]);
        Arc::make_mut(&mut org_superadmin).org_roles = vec!["superadmin".into()];
        let got = code(&mut org_superadmin, &platform, Some(&superadmin()));
        assert_eq!(got, ErrorCode::ElevationForbidden);
        // An implied platform role counts.
        let mut implied = caller(&["root"]);
        Arc::make_mut(&mut implied).implied_roles = vec!["superadmin".into()];
        elevate(&mut implied, &parts(&platform), Some(&superadmin())).expect("implied role");
        assert!(implied.elevated);
    }

    /// An authenticator that claims its callers are elevated.
    struct Claims;

    impl super::super::Authenticator for Claims {
        fn authenticate<'a>(
            &'a self,
            _: &'a Parts,
        ) -> crate::stores::BoxFuture<'a, Result<Option<AuthContext>, ArcError>> {
            Box::pin(async {
                Ok(Some(AuthContext {
                    user_id: Some("root".into()),
                    roles: vec!["superadmin".into()],
                    elevated: true,
                    ..AuthContext::default()
                }))
            })
        }
    }

    #[tokio::test]
    async fn only_the_header_elevates_never_an_authenticator_nor_a_bare_layer() {
        use axum::routing::get;
        use tower::ServiceExt;
        let auth = super::super::Auth::new()
            .with(Claims)
            .elevation(superadmin());
        let plain = auth.authenticate(&parts(&[])).await.expect("caller");
        assert!(!plain.elevated, "an authenticator's word is not elevation");
        let platform = [(SCOPE_HEADER, &b"platform"[..])];
        let asked = auth.authenticate(&parts(&platform)).await.expect("caller");
        assert!(asked.elevated);
        // Through `Auth::layer` (a router of the app's own, no trail to keep it): refused.
        let router = axum::Router::new()
            .route("/", get(|| async { "ran" }))
            .layer(auth.layer());
        let request = axum::http::Request::builder()
            .uri("/")
            .header(SCOPE_HEADER, PLATFORM)
            .body(axum::body::Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), axum::http::StatusCode::FORBIDDEN);
    }

    #[test]
    fn elevation_holds_the_organizations_roles_on_its_rows_only() {
        use super::super::RoleScope;
        let mut context = caller(&["superadmin"]);
        let platform = [(SCOPE_HEADER, &b"platform"[..])];
        elevate(&mut context, &parts(&platform), Some(&superadmin())).expect("elevated");
        assert!(context.has_role_in("billing", RoleScope::Organization));
        assert!(!context.has_role_in("billing", RoleScope::Platform));
        // What the app's own code asks of the roles held is answered by them alone.
        assert!(!context.has_role("billing"));
        assert!(!context.has_org_role("admin"));
        assert!(context.has_platform_role("superadmin"));
    }

    #[test]
    fn an_elevated_caller_acts_in_the_named_organization_or_in_none() {
        let mut context = caller(&["superadmin"]);
        let headers = [
            (SCOPE_HEADER, &b"platform"[..]),
            (ORG_HEADER, b"globex"),
            (REASON_HEADER, b"ticket 42"),
        ];
        elevate(&mut context, &parts(&headers), Some(&superadmin())).expect("elevated");
        assert!(context.elevated);
        assert_eq!(context.org_id.as_deref(), Some("globex"));
        assert!(context.org_roles.is_empty() && context.implied_org_roles.is_empty());
        assert_eq!(context.team_id, None);

        let mut context = caller(&["superadmin"]);
        let headers = [(SCOPE_HEADER, &b"platform"[..])];
        elevate(&mut context, &parts(&headers), Some(&superadmin())).expect("elevated");
        assert!(context.elevated);
        assert_eq!(context.org_id, None, "the token's own organization is left");
    }
}
