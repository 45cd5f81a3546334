//! Comments on articles.

use conduit_domain::{
    CommentId, Error, Resource, UserId,
    comment::{CommentBody, CommentView, NewComment},
    events::DomainEvent,
};

use crate::Conduit;

impl Conduit {
    /// Adds a comment by `author` to the article `slug`.
    #[tracing::instrument(skip(self, body))]
    pub async fn add_comment(
        &self,
        author: UserId,
        slug: &str,
        body: CommentBody,
    ) -> Result<CommentView, Error> {
        let article = self.find_article(slug).await?;
        let comments = &self.ports.stores.comments;
        let id = comments
            .add(NewComment {
                article_id: article.id,
                author_id: author,
                body,
                created_at: self.ports.clock.now(),
            })
            .await?;
        self.announce(DomainEvent::CommentAdded {
            article: article.id,
            comment: id,
        })
        .await;
        comments
            .comment(id, Some(author))
            .await?
            .ok_or(Error::NotFound(Resource::Comment))
    }

    /// The comments of the article `slug`, oldest first, as `viewer` sees them.
    #[tracing::instrument(skip(self))]
    pub async fn comments(
        &self,
        slug: &str,
        viewer: Option<UserId>,
    ) -> Result<Vec<CommentView>, Error> {
        let article = self.find_article(slug).await?;
        Ok(self.ports.stores.comments.list(article.id, viewer).await?)
    }

    /// Deletes a comment; only its author may.
    #[tracing::instrument(skip(self))]
    pub async fn delete_comment(
        &self,
        user: UserId,
        slug: &str,
        id: CommentId,
    ) -> Result<(), Error> {
        let article = self.find_article(slug).await?;
        let comments = &self.ports.stores.comments;
        let comment = comments
            .find(article.id, id)
            .await?
            .ok_or(Error::NotFound(Resource::Comment))?;
        if comment.author_id != user {
            return Err(Error::Forbidden(Resource::Comment));
        }
        if comments.delete(comment.id).await? {
            self.announce(DomainEvent::CommentDeleted {
                article: article.id,
                comment: comment.id,
            })
            .await;
            Ok(())
        } else {
            Err(Error::NotFound(Resource::Comment))
        }
    }
}

#[cfg(test)]
mod tests {
    use conduit_domain::article::{ArticleBody, ArticleDescription, ArticleTitle};

    use super::*;
    use crate::{
        CreateArticle,
        testing::{conduit, user},
    };

    #[tokio::test]
    async fn only_the_commenter_deletes_and_ids_are_scoped_to_the_article() {
        let app = conduit();
        let a = user(&app, "commenter").await;
        let b = user(&app, "bystander").await;
        let draft = |title: &str| CreateArticle {
            title: ArticleTitle::parse(title).expect("title"),
            description: ArticleDescription::parse("d").expect("description"),
            body: ArticleBody::parse("b").expect("body"),
            tags: vec![],
        };
        let first = app
            .create_article(a, draft("First"))
            .await
            .expect("created")
            .summary
            .slug;
        let second = app
            .create_article(a, draft("Second"))
            .await
            .expect("created")
            .summary
            .slug;
        let comment = app
            .add_comment(a, &first, CommentBody::parse("hello").expect("body"))
            .await
            .expect("commented");
        assert_eq!(comment.author.username, "commenter");
        assert!(matches!(
            app.delete_comment(b, &first, comment.id).await,
            Err(Error::Forbidden(Resource::Comment))
        ));
        assert!(matches!(
            app.delete_comment(a, &second, comment.id).await,
            Err(Error::NotFound(Resource::Comment))
        ));
        assert_eq!(app.comments(&first, None).await.expect("listed").len(), 1);
        app.delete_comment(a, &first, comment.id)
            .await
            .expect("deleted");
        assert!(app.comments(&first, None).await.expect("listed").is_empty());
        assert!(matches!(
            app.comments("missing", None).await,
            Err(Error::NotFound(Resource::Article))
        ));
    }
}
