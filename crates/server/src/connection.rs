//! Connections that stop sending or reading are closed.
//!
//! Every accepted connection gets a read and a write timeout of
//! `server.idle_timeout_seconds`: a client that opens a request and then sends nothing
//! more (slowloris), leaves a keep-alive connection silent, or stops reading its answer,
//! loses the connection after that long without progress, instead of holding it for
//! ever. A client that keeps sending, however slowly, is bounded by the request time
//! limit instead ([`crate::request_log::TimeLimit`]), which is shorter by default.
//!
//! poem's own `Server::idle_timeout` is not enough: it asks hyper to shut the connection
//! down gracefully, and hyper waits for a request whose head has started to arrive.

use std::{pin::Pin, time::Duration};

use poem::{
    http::uri::Scheme,
    listener::Acceptor,
    web::{LocalAddr, RemoteAddr},
};
use tokio_io_timeout::TimeoutStream;

/// An acceptor whose connections time out after `timeout` without progress.
pub struct IdleTimeout<A> {
    inner: A,
    timeout: Duration,
}

impl<A> IdleTimeout<A> {
    /// Wraps `inner`.
    pub fn new(inner: A, timeout: Duration) -> Self {
        IdleTimeout { inner, timeout }
    }
}

impl<A: Acceptor> Acceptor for IdleTimeout<A> {
    type Io = Pin<Box<TimeoutStream<A::Io>>>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        let mut io = TimeoutStream::new(io);
        io.set_read_timeout(Some(self.timeout));
        io.set_write_timeout(Some(self.timeout));
        Ok((Box::pin(io), local, remote, scheme))
    }
}
