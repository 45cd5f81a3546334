//! The generated text: titles, sentences, bodies, the tag vocabulary.

use conduit_domain::{
    StoreError,
    article::{ArticleTitle, Slug},
};
use rand::{Rng, rngs::StdRng};

/// The slug the API would give `title`, with the article id as its suffix: unique,
/// since titles are words only and every id differs.
pub(super) fn slug(title: &str, id: i64) -> Result<String, StoreError> {
    let title = ArticleTitle::parse(title)
        .map_err(|e| StoreError::Unexpected(format!("seeded title {title:?}: {e}").into()))?;
    Ok(Slug::from_title(&title, Some(&id.to_string())).into_inner())
}

const WORDS: &[&str] = &[
    "async",
    "build",
    "cache",
    "data",
    "deploy",
    "design",
    "error",
    "event",
    "fast",
    "guide",
    "handle",
    "index",
    "lesson",
    "memory",
    "model",
    "network",
    "notes",
    "pattern",
    "query",
    "queue",
    "release",
    "review",
    "scale",
    "schema",
    "secure",
    "server",
    "simple",
    "stream",
    "system",
    "test",
    "thread",
    "trace",
    "type",
    "update",
    "write",
    "zero",
    "better",
    "small",
    "large",
    "modern",
    "legacy",
    "hidden",
    "practical",
    "quiet",
    "robust",
    "clean",
    "shared",
    "lazy",
    "eager",
    "strict",
    "gentle",
    "brief",
    "deep",
    "first",
    "last",
    "real",
    "world",
    "code",
    "team",
    "product",
    "rust",
    "python",
    "garden",
    "coffee",
    "travel",
    "music",
    "writing",
    "reading",
    "habit",
    "morning",
    "city",
    "river",
    "mountain",
    "kitchen",
    "story",
    "history",
    "future",
    "idea",
    "question",
    "answer",
];

const TOPICS: &[&str] = &[
    "rust",
    "go",
    "python",
    "javascript",
    "typescript",
    "java",
    "kotlin",
    "swift",
    "ruby",
    "elixir",
    "haskell",
    "sql",
    "postgres",
    "sqlite",
    "redis",
    "kafka",
    "docker",
    "kubernetes",
    "linux",
    "security",
    "testing",
    "devops",
    "cloud",
    "web",
    "api",
    "design",
    "career",
    "productivity",
    "writing",
    "books",
    "music",
    "travel",
    "cooking",
    "coffee",
    "gardening",
    "photography",
    "science",
    "history",
    "startups",
    "health",
];

const QUALIFIERS: &[&str] = &["tips", "news", "beginners", "deep-dive"];

/// About 200 tag names, the plain topics first (the popular end of the Zipf draw).
pub(super) fn tag_vocabulary() -> Vec<String> {
    let mut names: Vec<String> = TOPICS.iter().map(|t| (*t).to_owned()).collect();
    for qualifier in QUALIFIERS {
        names.extend(TOPICS.iter().map(|t| format!("{t}-{qualifier}")));
    }
    names
}

pub(super) fn word(rng: &mut StdRng) -> &'static str {
    WORDS[rng.random_range(0..WORDS.len())]
}

pub(super) fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

pub(super) fn title(rng: &mut StdRng) -> String {
    let count = rng.random_range(3..=7);
    let mut words: Vec<String> = (0..count).map(|_| word(rng).to_owned()).collect();
    words[0] = capitalized(&words[0]);
    words.join(" ")
}

pub(super) fn sentence(rng: &mut StdRng, min: usize, max: usize) -> String {
    let count = rng.random_range(min..=max);
    let mut text = capitalized(word(rng));
    for _ in 1..count {
        text.push(' ');
        text.push_str(word(rng));
    }
    text.push('.');
    text
}

pub(super) fn sentences(rng: &mut StdRng, min: usize, max: usize) -> String {
    let count = rng.random_range(min..=max);
    (0..count)
        .map(|_| sentence(rng, 5, 14))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A few hundred characters, in one to three paragraphs.
pub(super) fn body(rng: &mut StdRng) -> String {
    let paragraphs = rng.random_range(1..=3);
    (0..paragraphs)
        .map(|_| sentences(rng, 2, 4))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_vocabulary_has_about_two_hundred_valid_tags() {
        let names = tag_vocabulary();
        assert_eq!(names.len(), 200);
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), 200);
        for name in &names {
            conduit_domain::article::TagName::parse(name).expect(name);
        }
    }

    #[test]
    fn slugs_end_with_the_id() {
        assert_eq!(slug("Fast async notes", 42).unwrap(), "fast-async-notes-42");
    }
}
