//! Authentication: [`Auth`], its [`Authenticator`]s, and the [`AuthContext`] it leaves on
//! every request.

pub(crate) mod api_key;
pub(crate) mod elevation;
#[cfg(feature = "remote-jwks")]
pub(crate) mod jwks;
pub(crate) mod jwt;
mod layer;
pub(crate) mod memberships;
mod roles;
pub(crate) mod sessions;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Map, Value};

pub use api_key::ApiKeys;
pub use elevation::Elevation;
pub(crate) use layer::ORG_HEADER;
pub use layer::{AccessLayer, AccessService};
pub use memberships::Memberships;
pub use roles::RoleHierarchy;

use crate::error::ArcError;
use crate::stores::{BoxFuture, InMemoryRevocation, RevocationStore};

/// How the caller authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// No credentials.
    #[default]
    Anonymous,
    /// A bearer JWT.
    Jwt,
    /// An `x-api-key`.
    ApiKey,
    /// A custom authenticator, by its name.
    Custom(&'static str),
}

/// Where a resource's rows live, and so which of a caller's roles count for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleScope {
    /// Rows every organization shares (no tenant field): only platform roles count, so an
    /// admin of one customer organization never changes what all of them see.
    Platform,
    /// Rows of the active organization (`multi_tenant`): its roles count too.
    Organization,
}

/// The caller: user, platform roles, active organization, roles there, memberships.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthContext {
    /// The user id (`sub`); `None` for anonymous callers.
    pub user_id: Option<String>,
    /// Platform roles (`roles`).
    pub roles: Vec<String>,
    /// The active organization: `x-organization-id` when given and allowed, else `org_id`.
    pub org_id: Option<String>,
    /// Roles in the active organization (`org_roles`).
    pub org_roles: Vec<String>,
    /// Platform roles that `roles` include through the app's [`RoleHierarchy`], besides them.
    pub implied_roles: Vec<String>,
    /// Roles in the active organization that `org_roles` include through the hierarchy.
    pub implied_org_roles: Vec<String>,
    /// Organizations the caller belongs to (`orgs`).
    pub orgs: Vec<String>,
    /// The active team inside the active organization (`team_id`).
    pub team_id: Option<String>,
    /// The token id (`jti`), for revocation.
    pub token_id: Option<String>,
    /// Expiry of the credentials (Unix seconds), if they expire.
    pub expires_at: Option<u64>,
    /// How the caller authenticated.
    pub method: AuthMethod,
    /// Every claim of the token, for custom rules.
    pub claims: Arc<Map<String, Value>>,
    /// Whether the caller acts with platform elevation on this request (`x-arc-scope:
    /// platform`, see [`Elevation`]): then `org_id` is the organization `x-organization-id`
    /// names, or `None` to act across every organization, and `org_roles` and `team_id` are
    /// empty. An elevated caller passes every rule that asks for a membership, a role in the
    /// organization, a team or ownership, and rows are narrowed to the named organization
    /// only (creating a tenant's row needs one); platform roles and `when(..)` rules are
    /// asked as for anyone.
    pub elevated: bool,
}

impl AuthContext {
    /// The anonymous caller.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Whether the caller is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.user_id.is_some()
    }

    /// Whether the caller has `role` among platform roles or roles in the active org, given
    /// or implied by the app's [`RoleHierarchy`].
    ///
    /// Resource permissions and field rules do not use this: an org role counts only on
    /// the active org's own rows (see [`AuthContext::has_role_in`]).
    pub fn has_role(&self, role: &str) -> bool {
        self.has_platform_role(role) || self.has_org_role(role)
    }

    /// Whether the caller has `role` among their platform roles (claim `roles`) or those
    /// they imply.
    pub fn has_platform_role(&self, role: &str) -> bool {
        self.roles
            .iter()
            .chain(&self.implied_roles)
            .any(|r| r == role)
    }

    /// Whether the caller has `role` in the active organization (claim `org_roles`) or
    /// it is implied there. Roles held, not elevation: an [elevated](AuthContext::elevated)
    /// caller passes the rules on an organization's rows by [`AuthContext::has_role_in`].
    pub fn has_org_role(&self, role: &str) -> bool {
        self.org_roles
            .iter()
            .chain(&self.implied_org_roles)
            .any(|r| r == role)
    }

    /// Whether `role` was given to the caller (not only implied by a role that includes it)
    /// for rows of `scope`: what `redact_for` masks by, so an admin whose role includes
    /// `intern` still reads what interns see masked.
    pub(crate) fn has_given_role_in(&self, role: &str, scope: RoleScope) -> bool {
        let platform = self.roles.iter().any(|r| r == role);
        match scope {
            RoleScope::Platform => platform,
            RoleScope::Organization => platform || self.org_roles.iter().any(|r| r == role),
        }
    }

    /// Whether `role` counts for rows of `scope`: a platform role everywhere, a role in the
    /// active organization only on that organization's own rows, where an
    /// [elevated](AuthContext::elevated) caller has every role.
    ///
    /// ```
    /// use arc_runtime::{AuthContext, RoleScope};
    /// let org_admin = AuthContext {
    ///     user_id: Some("ada".into()),
    ///     org_id: Some("acme".into()),
    ///     org_roles: vec!["admin".into()],
    ///     ..AuthContext::default()
    /// };
    /// assert!(org_admin.has_role_in("admin", RoleScope::Organization));
    /// assert!(!org_admin.has_role_in("admin", RoleScope::Platform));
    /// ```
    pub fn has_role_in(&self, role: &str, scope: RoleScope) -> bool {
        match scope {
            RoleScope::Platform => self.has_platform_role(role),
            // An elevated caller acts as the organization's every role on its rows.
            RoleScope::Organization => self.elevated || self.has_role(role),
        }
    }

    /// Whether the caller belongs to `org`.
    pub fn is_member_of(&self, org: &str) -> bool {
        self.org_id.as_deref() == Some(org) || self.orgs.iter().any(|o| o == org)
    }

    /// Gives `part` each part of the caller that the framework's rules read: who they are,
    /// their roles, organization, memberships and team, and how they signed in. Rules, row
    /// filters, tenancy and field rules read nothing else (only `when(..)` rules read the
    /// rest: the token's id, expiry and claims), so two callers alike in these parts are
    /// answered alike by every declarative rule. ETags ([`Audience`](crate::plugins::etag))
    /// and the query cache's front index tell callers apart by them.
    pub(crate) fn view_parts(&self, mut part: impl FnMut(&[u8])) {
        // Destructured, so a field added to the caller is a compile error here until it is
        // placed on one side or the other.
        let Self {
            user_id,
            roles,
            org_id,
            org_roles,
            implied_roles,
            implied_org_roles,
            orgs,
            team_id,
            method,
            elevated,
            token_id: _,
            expires_at: _,
            claims: _,
        } = self;
        let mut optional = |value: &Option<String>| match value {
            None => part(&[0]),
            Some(v) => {
                part(&[1]);
                part(v.as_bytes());
            }
        };
        optional(user_id);
        optional(org_id);
        optional(team_id);
        for list in [roles, org_roles, implied_roles, implied_org_roles, orgs] {
            part(&(list.len() as u64).to_le_bytes());
            for item in list {
                part(item.as_bytes());
            }
        }
        part(&[u8::from(*elevated)]);
        match method {
            AuthMethod::Anonymous => part(b"anonymous"),
            AuthMethod::Jwt => part(b"jwt"),
            AuthMethod::ApiKey => part(b"api-key"),
            AuthMethod::Custom(name) => {
                part(b"custom");
                part(name.as_bytes());
            }
        }
    }

    /// Whether every part [`view_parts`](Self::view_parts) gives is the anonymous caller's
    /// (an anonymous caller's view, whatever else they sent): what depends on the view alone
    /// can be made once for all of them.
    pub(crate) fn has_anonymous_view(&self) -> bool {
        // Destructured as in `view_parts`, for the same reason.
        let Self {
            user_id,
            roles,
            org_id,
            org_roles,
            implied_roles,
            implied_org_roles,
            orgs,
            team_id,
            method,
            elevated,
            token_id: _,
            expires_at: _,
            claims: _,
        } = self;
        user_id.is_none()
            && org_id.is_none()
            && team_id.is_none()
            && [roles, org_roles, implied_roles, implied_org_roles, orgs]
                .iter()
                .all(|list| list.is_empty())
            && !elevated
            && *method == AuthMethod::Anonymous
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        Ok(Arc::unwrap_or_clone(caller))
    }
}

/// The caller as the auth layer left it, shared (no copy per extraction). Anonymous when the
/// app has no authentication.
#[derive(Clone, Debug)]
pub struct Caller(pub Arc<AuthContext>);

impl std::ops::Deref for Caller {
    type Target = AuthContext;

    fn deref(&self) -> &AuthContext {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        static ANONYMOUS: std::sync::OnceLock<Arc<AuthContext>> = std::sync::OnceLock::new();
        let caller = match parts.extensions.get::<Arc<AuthContext>>() {
            Some(caller) => caller.clone(),
            None => ANONYMOUS
                .get_or_init(|| Arc::new(AuthContext::anonymous()))
                .clone(),
        };
        Ok(Caller(caller))
    }
}

/// Turns a request's credentials into a caller.
///
/// Return `Ok(None)` when the request carries no credentials of this kind (the next
/// authenticator is asked), `Err` when it carries some that do not verify (401).
pub trait Authenticator: Send + Sync + 'static {
    /// Authenticates the request whose head is `parts`.
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<AuthContext>, ArcError>>;

    /// Like [`Authenticator::authenticate`], for an authenticator that keeps callers and can
    /// hand out a shared one instead of a copy (the default wraps `authenticate`).
    fn authenticate_shared<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Arc<AuthContext>>, ArcError>> {
        Box::pin(async move { Ok(self.authenticate(parts).await?.map(Arc::new)) })
    }

    /// How the OpenAPI document names this way in: a security scheme's name and its
    /// object (`{"type": "http", "scheme": "bearer"}`), or `None` to leave it out.
    fn security_scheme(&self) -> Option<(&'static str, serde_json::Value)> {
        None
    }

    /// Every way in this authenticator takes, for the OpenAPI document: its
    /// [`security_scheme`](Self::security_scheme) unless it takes several (a JWT in the
    /// bearer header or in a cookie).
    fn security_schemes(&self) -> Vec<(&'static str, serde_json::Value)> {
        self.security_scheme().into_iter().collect()
    }
}

/// The app's authentication: who is calling, as an [`AuthContext`] in every request's
/// extensions.
///
/// An `Auth` holds the app's authenticators in order (JWT bearer tokens, API keys, or any
/// custom [`Authenticator`]), the revocation store, and whether `x-organization-id` may select
/// an organization; [`AccessLayer`] runs them once per request. No credentials gives the
/// anonymous context (routes decide whether that is enough); credentials that do not verify
/// are a 401, on every route.
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Auth {
    authenticators: Vec<Arc<dyn Authenticator>>,
    revocation: Arc<dyn RevocationStore>,
    hierarchy: Arc<RoleHierarchy>,
    elevation: Option<Arc<Elevation>>,
    memberships: Option<Arc<Memberships>>,
}

impl Auth {
    /// The security schemes of the authenticators, for the OpenAPI document.
    pub fn security_schemes(&self) -> Vec<(&'static str, serde_json::Value)> {
        let mut schemes: Vec<(&'static str, serde_json::Value)> = Vec::new();
        for scheme in self
            .authenticators
            .iter()
            .flat_map(|a| a.security_schemes())
        {
            if !schemes.iter().any(|(name, _)| *name == scheme.0) {
                schemes.push(scheme);
            }
        }
        schemes
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            authenticators: Vec::new(),
            revocation: Arc::new(InMemoryRevocation::new()),
            hierarchy: Arc::default(),
            elevation: None,
            memberships: None,
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("authenticators", &self.authenticators.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// No authenticator yet, in-memory revocation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an authenticator; they are asked in the order added.
    pub fn with(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticators.push(Arc::new(authenticator));
        self
    }

    /// Uses `store` for token revocation (shared across instances when it is shared).
    pub fn revocation(mut self, store: impl RevocationStore) -> Self {
        self.revocation = Arc::new(store);
        self
    }

    /// Declares which roles include which others, for every rule of the app: callers are
    /// given the roles theirs include once authenticated (`implied_roles`,
    /// `implied_org_roles`; see [`RoleHierarchy`]).
    ///
    /// ```
    /// use arc_runtime::RoleHierarchy;
    /// use arc_runtime::config::Auth;
    /// let auth = Auth::new().role_hierarchy(RoleHierarchy::new().chain(["admin", "editor"]));
    /// assert!(!auth.roles().is_empty());
    /// ```
    pub fn role_hierarchy(mut self, hierarchy: RoleHierarchy) -> Self {
        self.hierarchy = Arc::new(hierarchy);
        self
    }

    /// The role hierarchy (empty unless [`Auth::role_hierarchy`] declared one).
    pub fn roles(&self) -> &RoleHierarchy {
        &self.hierarchy
    }

    /// Lets callers with one of `elevation`'s platform roles act across organizations on
    /// the requests where they send `x-arc-scope: platform` (see
    /// [`AuthContext::elevated`]). Each such request is written to the audit trail before it
    /// runs (who, the method and path, the organization, and the `x-arc-reason` header), and
    /// refused (503) when it cannot be; the trail is on whenever elevation is.
    ///
    /// Without it, `x-arc-scope` is refused for everyone (403 `ELEVATION_FORBIDDEN`).
    pub fn elevation(mut self, elevation: Elevation) -> Self {
        self.elevation = Some(Arc::new(elevation));
        self
    }

    /// Resolves each caller's organizations and roles there from `memberships` (see
    /// [`Memberships`]) instead of the token's `orgs` and `org_roles` claims: a member
    /// removed or given other roles is treated so on their next request, whatever their
    /// token says. `x-organization-id` must name one of the caller's organizations (403
    /// `ORG_ACCESS_DENIED`); the token's `org_id` is the active organization while they are
    /// still a member of it. A store that cannot answer is a 503.
    ///
    /// ```
    /// use arc_runtime::config::{Auth, Memberships};
    /// let auth = Auth::new().memberships(Memberships::in_memory());
    /// assert!(auth.memberships_settings().is_some());
    /// ```
    pub fn memberships(mut self, memberships: Memberships) -> Self {
        self.memberships = Some(Arc::new(memberships));
        self
    }

    /// Where memberships come from, when [`Auth::memberships`] said.
    pub fn memberships_settings(&self) -> Option<&Memberships> {
        self.memberships.as_deref()
    }

    /// Who may elevate, when [`Auth::elevation`] said.
    pub fn elevation_settings(&self) -> Option<&Elevation> {
        self.elevation.as_deref()
    }

    /// The revocation store, e.g. to revoke a token on logout.
    pub fn revocation_store(&self) -> &Arc<dyn RevocationStore> {
        &self.revocation
    }

    /// The layer that authenticates every request, for a router of the app's own. It
    /// elevates nobody (`x-arc-scope` is refused, 403): elevation is kept in the audit
    /// trail, which only an [`App`](crate::App) keeps.
    pub fn layer(&self) -> AccessLayer {
        let mut auth = self.clone();
        auth.elevation = None;
        AccessLayer::new(auth)
    }

    /// The caller of a request: the first authenticator that finds credentials, checked
    /// against revocation, with the active organization selected and the roles their roles
    /// include added.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Arc<AuthContext>, ArcError> {
        static ANONYMOUS: std::sync::OnceLock<Arc<AuthContext>> = std::sync::OnceLock::new();
        let mut context = None;
        for authenticator in &self.authenticators {
            if let Some(found) = authenticator.authenticate_shared(parts).await? {
                context = Some(found);
                break;
            }
        }
        let mut context = context.unwrap_or_else(|| {
            ANONYMOUS
                .get_or_init(|| Arc::new(AuthContext::anonymous()))
                .clone()
        });
        // Elevation comes from the header alone (below), never from an authenticator.
        if context.elevated {
            Arc::make_mut(&mut context).elevated = false;
        }
        if let Some(jti) = &context.token_id {
            match self.revocation.is_revoked(jti).await {
                Ok(false) => {}
                Ok(true) => return Err(ArcError::unauthorized("Token has been revoked")),
                Err(e) => {
                    // Fail closed: a token we cannot check is not accepted.
                    tracing::error!(error = %e, "revocation store unavailable");
                    return Err(ArcError::unauthorized("Token could not be verified"));
                }
            }
        }
        // A copy only for the callers whose roles imply others. Platform roles first: an
        // implied one may allow elevation.
        let implied = self.hierarchy.implied(&context.roles);
        if !implied.is_empty() {
            Arc::make_mut(&mut context).implied_roles = implied;
        }
        if parts.headers.contains_key(elevation::SCOPE_HEADER) {
            elevation::elevate(&mut context, parts, self.elevation.as_deref())?;
        } else if let Some(memberships) = &self.memberships {
            memberships.resolve(&mut context, parts).await?;
        } else {
            layer::select_org(&mut context, parts)?;
        }
        let implied_org = self.hierarchy.implied(&context.org_roles);
        if !implied_org.is_empty() {
            Arc::make_mut(&mut context).implied_org_roles = implied_org;
        }
        Ok(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(caller: &AuthContext) -> Vec<u8> {
        let mut bytes = Vec::new();
        caller.view_parts(|part| {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part);
        });
        bytes
    }

    /// A caller has the anonymous view exactly when their view's parts are the anonymous
    /// caller's: one change to any part of the view is another view, a change elsewhere
    /// (the token's id, expiry, claims) is not.
    #[test]
    fn the_anonymous_view_is_the_anonymous_callers_parts() {
        let anonymous = AuthContext::anonymous();
        let one = || vec!["x".to_owned()];
        let callers = [
            AuthContext {
                user_id: Some("u".into()),
                ..AuthContext::default()
            },
            AuthContext {
                org_id: Some("o".into()),
                ..AuthContext::default()
            },
            AuthContext {
                team_id: Some("t".into()),
                ..AuthContext::default()
            },
            AuthContext {
                roles: one(),
                ..AuthContext::default()
            },
            AuthContext {
                org_roles: one(),
                ..AuthContext::default()
            },
            AuthContext {
                implied_roles: one(),
                ..AuthContext::default()
            },
            AuthContext {
                implied_org_roles: one(),
                ..AuthContext::default()
            },
            AuthContext {
                orgs: one(),
                ..AuthContext::default()
            },
            AuthContext {
                elevated: true,
                ..AuthContext::default()
            },
            AuthContext {
                method: AuthMethod::Jwt,
                ..AuthContext::default()
            },
            AuthContext {
                method: AuthMethod::Custom("x"),
                ..AuthContext::default()
            },
        ];
        assert!(anonymous.has_anonymous_view());
        for caller in &callers {
            assert!(!caller.has_anonymous_view(), "{caller:?}");
            assert_ne!(view(caller), view(&anonymous), "{caller:?}");
        }
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from("u"));
        let outside = AuthContext {
            token_id: Some("jti".into()),
            expires_at: Some(1),
            claims: Arc::new(claims),
            ..AuthContext::default()
        };
        assert!(outside.has_anonymous_view());
        assert_eq!(view(&outside), view(&anonymous));
    }
}
