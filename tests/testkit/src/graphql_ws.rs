//! A graphql-ws (`graphql-transport-ws`) client with one subscription: what the gateway's
//! replica tests and the end-to-end journeys use to watch `GET /graphql` over WebSocket.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One open subscription ("1") on its own connection.
#[derive(Debug)]
pub struct Subscriber {
    socket: Socket,
}

/// Why a connection did not get to subscribe: the server's answer to `connection_init`.
#[derive(Debug)]
pub struct Refused(pub String);

impl Subscriber {
    /// Connects to `{base}/graphql` (an `http://` base URL), authenticates with `bearer` in
    /// the `connection_init` payload and starts `query` as subscription "1".
    pub async fn open(
        base: &str,
        bearer: &str,
        query: &str,
        variables: Value,
    ) -> Result<Self, Refused> {
        let url = format!("{}/graphql", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("ws request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        let init = json!({
            "type": "connection_init",
            "payload": { "Authorization": format!("Bearer {bearer}") },
        });
        socket
            .send(Message::text(init.to_string()))
            .await
            .expect("send init");
        let ack = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an answer to connection_init");
        match ack {
            Some(Ok(Message::Text(text)))
                if serde_json::from_str::<Value>(&text).expect("JSON")["type"]
                    == "connection_ack" => {}
            other => return Err(Refused(format!("{other:?}"))),
        }
        let subscribe = json!({
            "id": "1",
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .expect("send subscribe");
        // The protocol does not acknowledge a subscribe: give the server a moment to start
        // the stream (and register with the event bus) before anything is published.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Self { socket })
    }

    /// The next `next`, `error` or `complete` message, or `None` after `wait` or when the
    /// server closes the connection. Pings are answered on the way.
    pub async fn message(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match next.ok()? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    match value["type"].as_str() {
                        Some("ping") => {
                            let pong = json!({ "type": "pong" }).to_string();
                            let _ = self.socket.send(Message::text(pong)).await;
                        }
                        Some("pong") => {}
                        _ => return Some(value),
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }
}
