//! A resource's routes on another service, as typed methods: [`ResourceClient`].

use std::fmt::{self, Display};
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Answer, ClientError, ServiceClient};
use crate::Resource;

/// The routes of the resource `R` on a service, reading rows as `T` (by default `R`
/// itself; [`ResourceClient::reads_as`] picks another type, such as a view with the fields
/// the caller may see). The contract's envelopes are unwrapped; an error answer is
/// [`ClientError::Status`] with its code.
///
/// ```no_run
/// # use arc_runtime::prelude::*;
/// # #[resource]
/// # #[permissions(default = public)]
/// # pub struct Product { #[field(id)] pub id: Uuid, pub name: String, pub price: i64 }
/// # async fn run(shop: arc_runtime::client::ServiceClient) -> Result<(), arc_runtime::client::ClientError> {
/// #[derive(serde::Deserialize)]
/// struct Listed { id: Uuid, name: String }
///
/// let products = shop.resource::<Product>().reads_as::<Listed>();
/// let page = products.list([("sort", "-price"), ("limit", "5")]).await?;
/// let lamp = products
///     .create(&serde_json::json!({"name": "Lamp", "price": 5}))
///     .await?;
/// products.delete(lamp.id).await?;
/// # let _ = page;
/// # Ok(())
/// # }
/// ```
pub struct ResourceClient<R, T = R> {
    client: ServiceClient,
    org: Option<String>,
    rows: PhantomData<fn() -> (R, T)>,
}

impl<R, T> Clone for ResourceClient<R, T> {
    fn clone(&self) -> Self {
        ResourceClient {
            client: self.client.clone(),
            org: self.org.clone(),
            rows: PhantomData,
        }
    }
}

impl<R, T> fmt::Debug for ResourceClient<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceClient")
            .field("service", &self.client.service())
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

/// A page of a list: the contract's list envelope (page or keyset).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Page<T> {
    /// The rows.
    pub docs: Vec<T>,
    /// The page (page pagination).
    pub page: Option<u64>,
    /// The most rows a page holds.
    pub limit: u64,
    /// The rows in all (page pagination).
    pub total: Option<u64>,
    /// The pages in all (page pagination).
    pub pages: Option<u64>,
    /// Whether a next page exists.
    pub has_next: bool,
    /// Whether a previous page exists (page pagination).
    pub has_prev: Option<bool>,
    /// The cursor of the next page (keyset pagination: pass it as `after`).
    pub next: Option<String>,
}

/// What a delete answers.
#[derive(Debug, Clone, serde::Deserialize)]
#[non_exhaustive]
pub struct Deleted {
    /// The row's id.
    pub id: String,
    /// Whether the row was soft-deleted (it can be restored).
    #[serde(default)]
    pub soft: bool,
}

/// The single-row envelope: `{"success": true, "data": ..}`.
#[derive(serde::Deserialize)]
struct Data<T> {
    data: T,
}

impl<R: Resource, T> ResourceClient<R, T> {
    pub(super) fn new(client: ServiceClient) -> Self {
        ResourceClient {
            client,
            org: None,
            rows: PhantomData,
        }
    }

    /// Reads rows as `V` instead.
    #[must_use]
    pub fn reads_as<V>(self) -> ResourceClient<R, V> {
        ResourceClient {
            client: self.client,
            org: self.org,
            rows: PhantomData,
        }
    }

    /// The organization whose rows a nested resource's path names
    /// (`/organizations/{orgId}/members`).
    #[must_use]
    pub fn in_org(mut self, org: impl Into<String>) -> Self {
        self.org = Some(org.into());
        self
    }

    /// The collection's path, the organization filled in (one segment, encoded).
    fn collection(&self) -> Result<String, ClientError> {
        let param = arc_spec::names::ORG_SEGMENT;
        match &self.org {
            Some(org) if R::META.path.contains(param) => {
                let mut segment = String::new();
                crate::percent::encode(self.segment(org, "an organization")?, &mut segment);
                Ok(R::META.path.replace(param, &segment))
            }
            _ => Ok(R::META.path.to_owned()),
        }
    }

    /// `value` as one path segment: not empty, not `.` or `..`.
    fn segment<'v>(&self, value: &'v str, what: &str) -> Result<&'v str, ClientError> {
        if value.is_empty() || crate::percent::dot_segment(value) {
            return Err(ClientError::Request {
                service: self.client.inner.service.clone(),
                reason: format!("`{value}` is not {what}'s id"),
            });
        }
        Ok(value)
    }

    /// The path of the row `id` (one segment, encoded).
    fn row(&self, id: &dyn Display) -> Result<String, ClientError> {
        let id = id.to_string();
        let mut path = self.collection()?;
        path.push('/');
        crate::percent::encode(self.segment(&id, "a row")?, &mut path);
        Ok(path)
    }
}

impl<R: Resource, T: DeserializeOwned> ResourceClient<R, T> {
    /// `GET /products?..`: a page of rows, with the query grammar's parameters.
    ///
    /// # Errors
    ///
    /// As [`Call::send`](super::Call::send), and [`ClientError::Decode`].
    pub async fn list<K: Into<String>, V: Into<String>>(
        &self,
        query: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Page<T>, ClientError> {
        let answer = self
            .client
            .get(&self.collection()?)
            .query(query)
            .send()
            .await?;
        answer.json()
    }

    /// `GET /products/{id}`.
    ///
    /// # Errors
    ///
    /// As [`Call::send`](super::Call::send) (`NOT_FOUND` for a row the caller may not
    /// see), and [`ClientError::Decode`].
    pub async fn get(&self, id: impl Display) -> Result<T, ClientError> {
        data(self.client.get(&self.row(&id)?).send().await?)
    }

    /// `POST /products`: the row as created.
    ///
    /// # Errors
    ///
    /// As [`Call::send`](super::Call::send) (`VALIDATION_ERROR` with its `details`), and
    /// [`ClientError::Decode`].
    pub async fn create(&self, body: &impl Serialize) -> Result<T, ClientError> {
        data(
            self.client
                .post(&self.collection()?)
                .json(body)
                .send()
                .await?,
        )
    }

    /// `PATCH /products/{id}`: the row after.
    ///
    /// # Errors
    ///
    /// As [`ResourceClient::create`].
    pub async fn update(&self, id: impl Display, patch: &impl Serialize) -> Result<T, ClientError> {
        data(
            self.client
                .patch(&self.row(&id)?)
                .json(patch)
                .send()
                .await?,
        )
    }

    /// `POST /orders/{id}/action {"action": name, ..fields}`: the row after.
    ///
    /// # Errors
    ///
    /// As [`ResourceClient::create`] (`INVALID_TRANSITION` when the state does not allow
    /// it); [`ClientError::Request`] when `fields` is not a JSON object.
    pub async fn action(
        &self,
        id: impl Display,
        action: &str,
        fields: &impl Serialize,
    ) -> Result<T, ClientError> {
        let mut body = match serde_json::to_value(fields) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(serde_json::Value::Null) => serde_json::Map::new(),
            _ => {
                return Err(ClientError::Request {
                    service: self.client.inner.service.clone(),
                    reason: format!("the fields of `{action}` are not a JSON object"),
                });
            }
        };
        body.insert("action".to_owned(), action.into());
        let path = format!("{}/action", self.row(&id)?);
        data(self.client.post(&path).json(&body).send().await?)
    }

    /// `DELETE /products/{id}`.
    ///
    /// # Errors
    ///
    /// As [`ResourceClient::get`].
    pub async fn delete(&self, id: impl Display) -> Result<Deleted, ClientError> {
        data(self.client.delete(&self.row(&id)?).send().await?)
    }
}

fn data<T: DeserializeOwned>(answer: Answer) -> Result<T, ClientError> {
    answer.json::<Data<T>>().map(|envelope| envelope.data)
}
