//! Event delivery: the publishers use cases announce their changes to.

use std::sync::Arc;

use async_trait::async_trait;
use conduit_domain::{events::DomainEvent, ports::EventPublisher};

/// Delivers events to nobody (no cache, no other subscriber configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSubscribers;

#[async_trait]
impl EventPublisher for NoSubscribers {
    async fn publish(&self, _event: &DomainEvent) {}
}

/// Delivers each event to every subscriber in turn, in the order given, within the
/// publishing request: when `publish` returns, every subscriber has done its work.
#[derive(Clone, Default)]
pub struct Subscribers(Vec<Arc<dyn EventPublisher>>);

impl Subscribers {
    /// No subscribers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `subscriber` after the others.
    #[must_use]
    pub fn with(mut self, subscriber: Arc<dyn EventPublisher>) -> Self {
        self.0.push(subscriber);
        self
    }
}

impl std::fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subscribers({})", self.0.len())
    }
}

#[async_trait]
impl EventPublisher for Subscribers {
    async fn publish(&self, event: &DomainEvent) {
        for subscriber in &self.0 {
            subscriber.publish(event).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use conduit_domain::UserId;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(usize, DomainEvent)>>);

    struct Tagged(usize, Arc<Recorder>);

    #[async_trait]
    impl EventPublisher for Tagged {
        async fn publish(&self, event: &DomainEvent) {
            self.1.0.lock().expect("lock").push((self.0, event.clone()));
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_event_in_order() {
        let seen = Arc::new(Recorder::default());
        let subscribers = Subscribers::new()
            .with(Arc::new(Tagged(1, seen.clone())))
            .with(Arc::new(Tagged(2, seen.clone())));
        let event = DomainEvent::ProfileChanged { user: UserId(7) };
        subscribers.publish(&event).await;
        assert_eq!(
            *seen.0.lock().expect("lock"),
            vec![(1, event.clone()), (2, event)]
        );
    }
}
