//! An idempotent resource whose create can be held in flight or failed once, for the
//! behaviour of idempotency keys on every store; and store wrappers: one shared by two
//! instances, one that stops reporting back as a crashed instance would.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_runtime::config::{
    Begin, BoxFuture, Claim, IdempotencyStore, JwtAuthenticator, JwtKeys, StoreError,
};
use arc_runtime::prelude::*;
use arc_runtime::sea_orm::DatabaseTransaction;

/// A parcel sent by a member of an organization. Its create waits `hold_ms` or fails with a
/// 500 (`fail_once`), the first time its label is seen only, so a retry of the same body
/// goes through.
#[resource(
    hooks,
    idempotency(ttl = "1h"),
    presets(
        multi_tenant(field = "org_id"),
        owned_by_user(field = "sender", bypass("admin"))
    ),
    query(filter = [label])
)]
#[permissions(default = org_member)]
pub struct Parcel {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    #[field(system)]
    pub sender: String,
    #[field(min_len = 1)]
    pub label: String,
    #[field(default)]
    pub hold_ms: i64,
    #[field(default)]
    pub fail_once: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Labels whose create ran once already.
static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn first_time(label: &str) -> bool {
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    seen.get_or_insert_with(HashSet::new)
        .insert(label.to_owned())
}

impl Hooks for Parcel {
    async fn before_create(
        _: &WriteContext<'_>,
        row: &mut parcel_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        use arc_runtime::sea_orm::ActiveValue;
        let label = match &row.label {
            ActiveValue::Set(l) | ActiveValue::Unchanged(l) => l.clone(),
            ActiveValue::NotSet => String::new(),
        };
        let hold = match row.hold_ms {
            ActiveValue::Set(ms) | ActiveValue::Unchanged(ms) => ms,
            ActiveValue::NotSet => 0,
        };
        let fail = matches!(row.fail_once, ActiveValue::Set(true));
        if (hold > 0 || fail) && first_time(&label) {
            if fail {
                return Err(ArcError::internal(std::io::Error::other("failing once")));
            }
            tokio::time::sleep(Duration::from_millis(hold.unsigned_abs())).await;
        }
        Ok(())
    }
}

/// An app serving parcels to the shop's tokens (signed with its development secret).
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    let keys = JwtKeys::hs256(shop::DEV_JWT_SECRET.as_bytes()).expect("a 32-byte secret");
    App::new(db)
        .resource::<Parcel>()
        .auth(Auth::new().with(JwtAuthenticator::new(keys)))
}

/// A store shared by instances (each app's settings own their store: this one forwards to a
/// shared one); with `crashed`, it takes keys but never reports back (no answer kept, no key
/// released), as an instance that stopped mid-request.
#[derive(Clone)]
pub struct Shared {
    pub inner: Arc<dyn IdempotencyStore>,
    pub crashed: bool,
}

impl Shared {
    pub fn new(inner: impl IdempotencyStore) -> Self {
        Self {
            inner: Arc::new(inner),
            crashed: false,
        }
    }

    /// The same store, as a crashed instance uses it.
    #[must_use]
    pub fn crashed(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            crashed: true,
        }
    }
}

impl IdempotencyStore for Shared {
    fn begin<'a>(&'a self, claim: &'a Claim<'a>) -> BoxFuture<'a, Result<Begin, StoreError>> {
        self.inner.begin(claim)
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        response: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if self.crashed {
            return Box::pin(std::future::ready(Ok(())));
        }
        self.inner.complete(key, token, response, ttl)
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if self.crashed {
            return Box::pin(std::future::ready(Ok(())));
        }
        self.inner.release(key, token)
    }

    fn seal<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.seal(txn, key, token)
    }
}
