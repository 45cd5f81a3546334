//! Profiles and following.

use conduit_domain::{
    Error, Resource, UserId,
    events::DomainEvent,
    user::{Profile, Username},
};

use crate::Conduit;

impl Conduit {
    /// The profile of `username` (any case) as `viewer` sees it. A name that cannot be a
    /// username is simply not found.
    #[tracing::instrument(skip(self))]
    pub async fn profile(&self, username: &str, viewer: Option<UserId>) -> Result<Profile, Error> {
        let username = Username::parse(username).map_err(|_| Error::NotFound(Resource::Profile))?;
        self.ports
            .stores
            .profiles
            .profile(&username, viewer)
            .await?
            .ok_or(Error::NotFound(Resource::Profile))
    }

    /// Makes `follower` follow `username`; idempotent. Following oneself is forbidden:
    /// the request is well formed, but no user may hold that relation to themselves.
    #[tracing::instrument(skip(self))]
    pub async fn follow(&self, follower: UserId, username: &str) -> Result<Profile, Error> {
        let target = self.profile(username, Some(follower)).await?;
        if target.user_id == follower {
            return Err(Error::Forbidden(Resource::Profile));
        }
        self.ports
            .stores
            .profiles
            .follow(follower, target.user_id)
            .await?;
        self.announce(DomainEvent::FollowChanged {
            follower,
            followee: target.user_id,
            following: true,
        })
        .await;
        Ok(Profile {
            following: true,
            ..target
        })
    }

    /// Makes `follower` stop following `username`; idempotent.
    #[tracing::instrument(skip(self))]
    pub async fn unfollow(&self, follower: UserId, username: &str) -> Result<Profile, Error> {
        let target = self.profile(username, Some(follower)).await?;
        self.ports
            .stores
            .profiles
            .unfollow(follower, target.user_id)
            .await?;
        self.announce(DomainEvent::FollowChanged {
            follower,
            followee: target.user_id,
            following: false,
        })
        .await;
        Ok(Profile {
            following: false,
            ..target
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{conduit, user};

    #[tokio::test]
    async fn follow_and_unfollow_are_idempotent_and_seen_by_the_follower_only() {
        let app = conduit();
        let fan = user(&app, "fan").await;
        user(&app, "celeb").await;
        assert!(app.follow(fan, "celeb").await.expect("followed").following);
        assert!(
            app.follow(fan, "CELEB")
                .await
                .expect("followed twice")
                .following
        );
        assert!(
            app.profile("celeb", Some(fan))
                .await
                .expect("profile")
                .following
        );
        assert!(!app.profile("celeb", None).await.expect("profile").following);
        assert!(
            !app.unfollow(fan, "celeb")
                .await
                .expect("unfollowed")
                .following
        );
        assert!(
            !app.unfollow(fan, "celeb")
                .await
                .expect("unfollowed twice")
                .following
        );
        assert!(
            !app.profile("celeb", Some(fan))
                .await
                .expect("profile")
                .following
        );
    }

    #[tokio::test]
    async fn unknown_or_malformed_names_are_not_found_and_self_follow_is_refused() {
        let app = conduit();
        let me = user(&app, "me").await;
        assert!(matches!(
            app.profile("nobody", None).await,
            Err(Error::NotFound(Resource::Profile))
        ));
        assert!(matches!(
            app.profile("not a name!", None).await,
            Err(Error::NotFound(Resource::Profile))
        ));
        assert!(matches!(
            app.follow(me, "nobody").await,
            Err(Error::NotFound(Resource::Profile))
        ));
        assert!(matches!(
            app.follow(me, "me").await,
            Err(Error::Forbidden(Resource::Profile))
        ));
    }
}
