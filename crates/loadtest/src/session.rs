//! What one goose user knows: its account and token, and the slugs, tags and usernames
//! it has seen in the server's answers (so the test works against any database).

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

/// Most entries kept per list, so a long run does not grow without bound.
const POOL_LIMIT: usize = 200;

/// An account's credentials, as sent to `POST /api/users` and `POST /api/users/login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Username (letters, digits, `_`, `-`, `.`).
    pub username: String,
    /// Email address.
    pub email: String,
    /// Password, at least 8 characters.
    pub password: String,
}

impl Account {
    /// A fresh random account, unlikely to collide with any other.
    pub fn random() -> Self {
        let id: u64 = rand::rng().random();
        let username = format!("load-{id:016x}");
        Self {
            email: format!("{username}@load.example"),
            password: format!("pw-{id:016x}"),
            username,
        }
    }

    /// The known account of the login scenario, from `CONDUIT_LOAD_LOGIN_USERNAME`,
    /// `CONDUIT_LOAD_LOGIN_EMAIL` and `CONDUIT_LOAD_LOGIN_PASSWORD`, with defaults.
    pub fn login_from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            username: var("CONDUIT_LOAD_LOGIN_USERNAME", "load-login"),
            email: var("CONDUIT_LOAD_LOGIN_EMAIL", "load-login@load.example"),
            password: var("CONDUIT_LOAD_LOGIN_PASSWORD", "load-login-password"),
        }
    }

    /// `{"user":{"username","email","password"}}` for registration.
    pub fn registration_body(&self) -> Value {
        json!({"user": {"username": self.username, "email": self.email, "password": self.password}})
    }

    /// `{"user":{"email","password"}}` for login.
    pub fn login_body(&self) -> Value {
        json!({"user": {"email": self.email, "password": self.password}})
    }
}

/// Per-user state, kept in goose's session data.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The signed-in account, if any.
    pub account: Option<Account>,
    /// The access token of that account (`user.token`).
    pub token: Option<String>,
    /// What has been seen of the server's content.
    pub pool: Pool,
}

/// Slugs, tags and usernames seen in the server's answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pool {
    /// Article slugs.
    pub slugs: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Usernames of article authors.
    pub authors: Vec<String>,
    /// `articlesCount` of the last global list.
    pub articles_count: u64,
}

fn remember(list: &mut Vec<String>, value: &str) {
    if value.is_empty() || list.iter().any(|known| known == value) {
        return;
    }
    if list.len() >= POOL_LIMIT {
        // Forget the oldest: newer content is what readers tend to reach.
        list.remove(0);
    }
    list.push(value.to_owned());
}

impl Pool {
    /// Learns from a multiple-articles answer (`{"articles":[...],"articlesCount":n}`).
    /// When `global` the count is kept, for picking pages.
    pub fn learn_articles(&mut self, body: &Value, global: bool) {
        if let Some(articles) = body.get("articles").and_then(Value::as_array) {
            for article in articles {
                self.learn_article(article);
            }
        }
        if global && let Some(count) = body.get("articlesCount").and_then(Value::as_u64) {
            self.articles_count = count;
        }
    }

    /// Learns from one article object (a list item, or `article` of a single answer).
    pub fn learn_article(&mut self, article: &Value) {
        if let Some(slug) = article.get("slug").and_then(Value::as_str) {
            remember(&mut self.slugs, slug);
        }
        if let Some(author) = article.pointer("/author/username").and_then(Value::as_str) {
            remember(&mut self.authors, author);
        }
        if let Some(tags) = article.get("tagList").and_then(Value::as_array) {
            for tag in tags.iter().filter_map(Value::as_str) {
                remember(&mut self.tags, tag);
            }
        }
    }

    /// Learns from `{"tags":[...]}`.
    pub fn learn_tags(&mut self, body: &Value) {
        if let Some(tags) = body.get("tags").and_then(Value::as_array) {
            for tag in tags.iter().filter_map(Value::as_str) {
                remember(&mut self.tags, tag);
            }
        }
    }

    /// A random known slug.
    pub fn slug(&self) -> Option<String> {
        self.slugs.choose(&mut rand::rng()).cloned()
    }

    /// A random known tag.
    pub fn tag(&self) -> Option<String> {
        self.tags.choose(&mut rand::rng()).cloned()
    }

    /// A random known author other than `except`.
    pub fn author_other_than(&self, except: Option<&str>) -> Option<String> {
        let others: Vec<&String> = self
            .authors
            .iter()
            .filter(|name| Some(name.as_str()) != except)
            .collect();
        others.choose(&mut rand::rng()).map(|name| (*name).clone())
    }

    /// A random offset for a page of `limit` articles among the first few pages.
    pub fn page_offset(&self, limit: u64, max_pages: u64) -> u64 {
        let pages = self.articles_count.div_ceil(limit).clamp(1, max_pages);
        rand::rng().random_range(0..pages) * limit
    }
}

/// Percent-encodes one query-string value or path segment.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_learns_slugs_authors_and_tags_from_lists() {
        let mut pool = Pool::default();
        pool.learn_articles(
            &json!({
                "articles": [
                    {"slug": "a", "author": {"username": "ann"}, "tagList": ["rust", "web"]},
                    {"slug": "b", "author": {"username": "ann"}, "tagList": []}
                ],
                "articlesCount": 45
            }),
            true,
        );
        pool.learn_tags(&json!({"tags": ["web", "go"]}));
        assert_eq!(pool.slugs, ["a", "b"]);
        assert_eq!(pool.authors, ["ann"]);
        assert_eq!(pool.tags, ["rust", "web", "go"]);
        assert_eq!(pool.articles_count, 45);
        assert_eq!(pool.author_other_than(Some("ann")), None);
        assert!(pool.page_offset(20, 5) <= 40);
        assert_eq!(Pool::default().page_offset(20, 5), 0);
    }

    #[test]
    fn an_empty_database_gives_an_empty_pool() {
        let mut pool = Pool::default();
        pool.learn_articles(&json!({"articles": [], "articlesCount": 0}), true);
        pool.learn_tags(&json!({"tags": []}));
        assert_eq!(pool.slug(), None);
        assert_eq!(pool.tag(), None);
    }

    #[test]
    fn encoding_keeps_tags_safe_in_urls() {
        assert_eq!(encode("c++ & rust"), "c%2B%2B+%26+rust");
        assert_eq!(encode("plain"), "plain");
    }
}
