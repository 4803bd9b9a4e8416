//! The listener's accept loop: bounds what a connection may cost before any request is
//! handled. A peer not allowed is closed at accept, at most `MAX_CONNECTIONS` are open at
//! once (more are closed at once), request headers must arrive within `HEADER_TIMEOUT`,
//! and no connection lives longer than `CONNECTION_TIMEOUT`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::{AllowList, Event};

/// How long request headers may take to arrive, also between requests on a kept-alive
/// connection: a sender trickling its headers is cut off rather than held for ever.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection stays open, however busy: headers and body each have their
/// own limit, this one bounds a peer that keeps sending request after request.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_mins(1);
/// Connections open at once; a new one beyond this is closed unread (the gateway retries).
pub const MAX_CONNECTIONS: usize = 256;

/// What the accept loop needs besides the router.
pub(super) struct Accept {
    pub tcp: TcpListener,
    pub app: Router,
    pub allow: AllowList,
    pub events: mpsc::Sender<Event>,
    pub clock: Arc<dyn crate::clock::Clock>,
}

/// Accepts until `stop` fires, then lets open connections finish their current request.
pub(super) async fn run(accept: Accept, mut stop: oneshot::Receiver<()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (closing, closed) = watch::channel(false);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = accept.tcp.accept() => {
                // An accept error (out of descriptors, a reset before accept) concerns
                // one connection, not the listener; the pause keeps a lasting one (out of
                // descriptors) from spinning the loop.
                let Ok((stream, peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if !accept.allow.allows(peer.ip()) {
                    drop(stream);
                    refused(&accept, peer);
                    continue;
                }
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    drop(stream);
                    continue;
                };
                let app = accept.app.clone();
                let closed = closed.clone();
                conns.spawn(async move {
                    let _slot = slot;
                    serve_one(stream, peer, app, closed).await;
                });
            }
        }
    }
    let _ = closing.send(true);
    while conns.join_next().await.is_some() {}
}

/// Reports a peer closed at accept; never waits, so a flood of them cannot stall
/// accepting (when the reader is behind, the report is dropped).
fn refused(accept: &Accept, peer: SocketAddr) {
    let _ = accept.events.try_send(Event {
        source: "tcp",
        order_ref: String::new(),
        verdict: "not-allowed",
        acknowledged: false,
        duplicate: false,
        peer: peer.ip().to_canonical().to_string(),
        received_at: accept.clock.now_secs(),
        status: None,
        effect: None,
        lines: Vec::new(),
        error: None,
    });
}

async fn serve_one(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    mut closed: watch::Receiver<bool>,
) {
    let service = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut conn = std::pin::pin!(conn);
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        tokio::select! {
            _ = &mut conn => {}
            () = async { drop(closed.wait_for(|c| *c).await); } => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    })
    .await;
}
