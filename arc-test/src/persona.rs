//! Personas: who a test sends a request as, with the bearer token an app signed with an
//! HS256 secret accepts.

use std::time::Duration;

use arc_runtime::config::{JwtSigner, TokenClaims};

/// Mints tokens for personas with the app's HS256 secret (what its `JwtKeys::hs256`
/// checks).
#[derive(Clone)]
pub struct Tokens {
    signer: JwtSigner,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").finish_non_exhaustive()
    }
}

impl Tokens {
    /// Tokens signed with `secret`; a panic when it is not a valid HS256 secret (at least
    /// 32 bytes), as in any test fixture.
    #[must_use]
    pub fn hs256(secret: &[u8]) -> Tokens {
        match JwtSigner::hs256(secret) {
            Ok(signer) => Tokens { signer },
            Err(e) => panic!("not an HS256 secret: {e}"),
        }
    }

    /// A persona named `user` (the token's `sub`), with no role until said.
    pub fn persona(&self, user: &str) -> PersonaBuilder<'_> {
        PersonaBuilder {
            tokens: self,
            claims: TokenClaims::new(user, Duration::from_secs(3600)),
        }
    }
}

/// A persona being described: its roles, organization and token lifetime.
#[derive(Debug)]
#[must_use = "finish the persona with `build`"]
pub struct PersonaBuilder<'a> {
    tokens: &'a Tokens,
    claims: TokenClaims,
}

impl PersonaBuilder<'_> {
    /// Platform roles (`roles` claim).
    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.claims = self.claims.roles(roles);
        self
    }

    /// Active in `org` with `org_roles` there (the token's claims: an app whose memberships
    /// come from a store decides for itself). Said again, the last organization is the
    /// active one, and the earlier ones stay among the token's `orgs`.
    pub fn org(mut self, org: &str, org_roles: &[&str]) -> Self {
        self.claims = self.claims.org(org, org_roles);
        self
    }

    /// The token lives `ttl` (an hour unless said).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        let now = self.claims.iat;
        self.claims.exp = now + ttl.as_secs();
        self
    }

    /// The persona, its token signed.
    pub fn build(self) -> Persona {
        match self.tokens.signer.sign(&self.claims) {
            Ok(token) => Persona {
                name: self.claims.sub.clone(),
                org: self.claims.org_id.clone(),
                authorization: Some(format!("Bearer {token}")),
            },
            Err(e) => panic!("signing {}'s token: {e}", self.claims.sub),
        }
    }
}

/// Who sends a request: a signed-in user with their token, or nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Persona {
    /// Their user id, or `anonymous`.
    pub name: String,
    /// Their active organization, if any.
    pub org: Option<String>,
    authorization: Option<String>,
}

impl Persona {
    /// Nobody: no credentials.
    #[must_use]
    pub fn anonymous() -> Persona {
        Persona {
            name: "anonymous".to_owned(),
            org: None,
            authorization: None,
        }
    }

    /// A persona that sends `authorization` as it is (an API key's scheme, a forged token).
    #[must_use]
    pub fn with_authorization(name: &str, authorization: &str) -> Persona {
        Persona {
            name: name.to_owned(),
            org: None,
            authorization: Some(authorization.to_owned()),
        }
    }

    /// The `Authorization` header it sends, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }
}
