//! A WebSocket client for the tests of `/ws`: the router served on a local socket (an
//! upgrade needs a real connection), JSON messages in and out.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};

/// Serves `router` on a free local port until the test ends; its address.
pub async fn serve(router: &Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let service = router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An open WebSocket.
pub struct WsClient {
    socket: Socket,
}

/// A refused upgrade: the status and the JSON body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

/// How a connection ended: the close frame's code and reason (none when it just dropped).
#[derive(Debug, PartialEq)]
pub struct Closed {
    pub code: Option<u16>,
    pub reason: String,
}

/// Opens `ws://{addr}{path}` with `headers`.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WsClient, Refused> {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    for (k, v) in headers {
        let name = axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name");
        request
            .headers_mut()
            .insert(name, v.parse().expect("value"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(WsClient { socket }),
        Err(Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err(Refused { status, body })
        }
        Err(e) => panic!("the upgrade failed: {e}"),
    }
}

impl WsClient {
    /// Sends `message` as text.
    pub async fn send(&mut self, message: &Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send");
    }

    /// The next JSON message within `wait` (skipping the server's `ping`s); `None` when none
    /// came or the connection closed.
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let value = self.next_any(left).await?;
            if value["type"] != "ping" {
                return Some(value);
            }
        }
    }

    /// The next JSON message within `wait`, the server's `ping`s included.
    pub async fn next_any(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??
                .ok()?;
            if let Message::Text(text) = message {
                return Some(serde_json::from_str(text.as_str()).expect("JSON"));
            }
        }
    }

    /// Every JSON message but the server's `ping`s, until none comes for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(value) = self.next(quiet).await {
            out.push(value);
        }
        out
    }

    /// Reads until the server closes (at most `wait`): the messages before, and the close.
    pub async fn until_closed(&mut self, wait: Duration) -> (Vec<Value>, Closed) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    out.push(serde_json::from_str(text.as_str()).expect("JSON"));
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let closed = Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    };
                    return (out, closed);
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => {
                    return (
                        out,
                        Closed {
                            code: None,
                            reason: String::new(),
                        },
                    );
                }
                Err(_) => panic!("the server did not close within {wait:?}"),
            }
        }
    }
}
