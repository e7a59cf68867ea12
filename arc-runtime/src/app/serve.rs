//! Serving: binding, refusing to start with problems, draining at shutdown, shutdown hooks.

use std::sync::Arc;

use tokio::net::ToSocketAddrs;

use super::App;

impl App {
    /// Serves on `addr` until Ctrl-C or SIGTERM, then drains (see [`App::serve_on`]).
    pub async fn serve(self, addr: impl ToSocketAddrs) -> std::io::Result<()> {
        self.serve_on(tokio::net::TcpListener::bind(addr).await?)
            .await
    }

    /// Serves on a bound listener until Ctrl-C or SIGTERM, then drains.
    pub async fn serve_on(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// Serves until `signal` resolves; then readiness turns 503, no new connection is
    /// accepted, in-flight requests get the drain timeout to finish, and the database pool is
    /// closed.
    pub async fn serve_until(
        mut self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(std::io::Error::other(format!(
                "refusing to start ({:?} preset): {}",
                self.preset,
                problems.join("; ")
            )));
        }
        let db = self.db.clone();
        let drain = self.drain;
        let hooks = std::mem::take(&mut self.on_shutdown);
        let (router, health, background) = self.build();
        let draining = health.draining();
        let started = Arc::new(tokio::sync::Notify::new());
        let notify = started.clone();
        let on_signal = async move {
            signal.await;
            draining.set();
            tracing::info!("shutting down: draining in-flight requests");
            notify.notify_one();
        };
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = axum::serve(listener, service).with_graceful_shutdown(on_signal);
        let deadline = async {
            started.notified().await;
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            result = server.into_future() => result?,
            () = deadline => tracing::warn!(
                "drain timeout ({} s) passed with requests in flight; closing",
                drain.as_secs()
            ),
        }
        // The events' relay and subscribers, the webhooks' deliveries: they need the pool,
        // so before it closes.
        background.shutdown(App::SHUTDOWN_HOOK_TIMEOUT).await;
        for hook in hooks {
            if tokio::time::timeout(App::SHUTDOWN_HOOK_TIMEOUT, hook())
                .await
                .is_err()
            {
                tracing::warn!(
                    "a shutdown hook took longer than {:?}",
                    App::SHUTDOWN_HOOK_TIMEOUT
                );
            }
        }
        if let Err(e) = db.close().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM: what [`App::serve`] waits for, for an app that serves
/// [`App::into_router`] itself or combines it with a signal of its own in
/// [`App::serve_until`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
