//! Articles, their tags, slugs, favorites, and the queries that list them.

use crate::{
    ArticleId, Invalid, UserId,
    text::{at_most, multi_line, single_line, string_value},
    time::Timestamp,
    user::{Profile, Username},
};

string_value!(
    /// An article title: 1 to 255 characters after trimming.
    ArticleTitle
);
string_value!(
    /// A one-line summary: 1 to 1000 characters after trimming.
    ArticleDescription
);
string_value!(
    /// The Markdown body: 1 to 100,000 characters. Not trimmed inside, only checked.
    ArticleBody
);
string_value!(
    /// A tag: 1 to 64 characters after trimming, no control characters.
    TagName
);
string_value!(
    /// The article's URL identifier: lowercase ASCII letters, digits and single hyphens.
    Slug
);

impl ArticleTitle {
    /// Longest accepted title.
    pub const MAX: usize = 255;
    /// Trims and checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        single_line(raw, Self::MAX).map(Self)
    }
}

impl ArticleDescription {
    /// Longest accepted description.
    pub const MAX: usize = 1000;
    /// Trims and checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        single_line(raw, Self::MAX).map(Self)
    }
}

impl ArticleBody {
    /// Longest accepted body.
    pub const MAX: usize = 100_000;
    /// Checks `raw` is not blank and not too long; keeps it as written.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        multi_line(raw, Self::MAX).map(Self)
    }
}

impl TagName {
    /// Longest accepted tag.
    pub const MAX: usize = 64;
    /// Trims and checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        single_line(raw, Self::MAX).map(Self)
    }

    /// Parses a whole tag list: each tag checked, duplicates dropped (first one kept,
    /// order preserved), at most [`TagName::MAX_PER_ARTICLE`] tags.
    pub fn parse_list<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Self>, Invalid> {
        // Counted as sent, before duplicates are dropped, so the documented `maxItems`
        // is exactly the rule.
        if raw.len() > Self::MAX_PER_ARTICLE {
            return Err(Invalid::TooMany {
                max: Self::MAX_PER_ARTICLE,
            });
        }
        let mut tags: Vec<Self> = Vec::with_capacity(raw.len());
        for item in raw {
            let tag = Self::parse(item.as_ref())?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(tags)
    }

    /// Most tags one article may carry.
    pub const MAX_PER_ARTICLE: usize = 20;
}

impl Slug {
    /// Longest slug accepted in a URL.
    pub const MAX: usize = 255;
    /// Longest part of a slug derived from the title (before any suffix).
    const MAX_BASE: usize = 96;

    /// Checks a slug taken from a URL.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::Format {
                expected: "lowercase letters, digits and hyphens",
            })
        }
    }

    /// The slug for `title`: lowercase ASCII words joined by hyphens ("How to train
    /// your dragon" becomes "how-to-train-your-dragon"), cut at a word boundary, or
    /// "article" when the title has no ASCII letters or digits. When `suffix` is given
    /// it is appended after a hyphen, to tell apart articles with the same title.
    pub fn from_title(title: &ArticleTitle, suffix: Option<&str>) -> Self {
        let mut base = String::new();
        for word in title
            .as_str()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let extra = word.len() + usize::from(!base.is_empty());
            if base.len() + extra > Self::MAX_BASE {
                if base.is_empty() {
                    base.push_str(&word[..Self::MAX_BASE].to_ascii_lowercase());
                }
                break;
            }
            if !base.is_empty() {
                base.push('-');
            }
            base.push_str(&word.to_ascii_lowercase());
        }
        if base.is_empty() {
            base.push_str("article");
        }
        if let Some(suffix) = suffix {
            let clean: String = suffix
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            if !clean.is_empty() {
                base.push('-');
                base.push_str(&clean);
            }
        }
        Self(base)
    }
}

/// A page of a list: how many items to skip and how many to return. The bounds clients
/// may ask for are API policy, checked at the HTTP boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    /// Items to return.
    pub limit: u64,
    /// Items to skip.
    pub offset: u64,
}

impl Page {
    /// The contract's default page size.
    pub const DEFAULT_LIMIT: u64 = 20;
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// Filters of the global article list, as values a tag or a user can have; all given
/// filters must hold. A tag or username nobody has matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ArticleFilter {
    /// Only articles carrying this tag (exactly this name).
    pub tag: Option<TagName>,
    /// Only articles by this user (the name compared case-insensitively).
    pub author: Option<Username>,
    /// Only articles favorited by this user (the name compared case-insensitively).
    pub favorited_by: Option<Username>,
    /// Only articles whose title, description or body hold every word of the search;
    /// the list is then ordered by relevance (see [`SearchQuery`]).
    pub search: Option<SearchQuery>,
}

/// A full-text search of articles: the words of the text a client sent.
///
/// A word is a run of letters and digits (Unicode), compared case-insensitively; any
/// other character separates words, so punctuation, quotes and the operators of search
/// syntaxes (`"`, `-`, `OR`, `*`, `:`...) are never interpreted, only split on (and
/// `or` is then simply a word). An article matches when its title, description or body
/// hold every word, whole; duplicated words count once. The stores rank matches by
/// relevance, a match in the title above one in the description, above one in the
/// body, then newest first (the highest id, as every list orders).
///
/// A search is bounded: it considers the newest [`SearchQuery::WINDOW`] matching
/// articles (after the other filters), ranks those and counts those, so its cost does
/// not grow with how common its words are. A list's total is then at most `WINDOW`,
/// and paging stops there; a narrower search (another word, a filter) reaches older
/// articles.
///
/// The text may have at most [`SearchQuery::MAX`] characters once trimmed; text with
/// no word in it (blank, or punctuation only) makes no query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    /// Lowercased, each once, in the order sent; never empty.
    terms: Vec<String>,
}

impl SearchQuery {
    /// Longest accepted search text, in characters, after trimming.
    pub const MAX: usize = 200;

    /// How many matching articles a search considers, newest first: the most it ranks,
    /// counts and pages through (ADR 0027). Ranking needs every candidate, so without
    /// a bound a word in half of a million articles costs seconds; within it, the
    /// cost follows this number, not the word's frequency.
    pub const WINDOW: u64 = 1_000;

    /// The words of `raw`: `Err` when the text is too long, `Ok(None)` when it holds no
    /// word.
    pub fn parse(raw: &str) -> Result<Option<Self>, Invalid> {
        let text = raw.trim();
        at_most(text, Self::MAX)?;
        let mut terms: Vec<String> = Vec::new();
        for word in Self::words(text) {
            if !terms.contains(&word) {
                terms.push(word);
            }
        }
        Ok((!terms.is_empty()).then_some(SearchQuery { terms }))
    }

    /// The words to find, lowercased, each once, in the order sent; at least one.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The words of `text` as a search sees them: runs of letters and digits,
    /// lowercased. For stores that match words themselves.
    pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
    }
}

/// The list filters as a client sent them; `None` where one was not sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct SentFilters<'a> {
    /// The tag, as sent.
    pub tag: Option<&'a str>,
    /// The author's username, as sent.
    pub author: Option<&'a str>,
    /// The username of a user who favorited the articles, as sent.
    pub favorited_by: Option<&'a str>,
    /// The full-text search, as sent.
    pub search: Option<&'a str>,
}

/// The global list a client asked for, decided once from what it sent: a filter the
/// stores run, or a request that no article can match.
///
/// A value no tag or user can have (a NUL character, a space in a username, a tag with
/// white space around it or longer than any tag...) names nothing: the answer is the
/// empty list, as for a name nobody has. The RealWorld contract answers unknown filter
/// values with an empty list, not an error, and the stores never see such a value. So
/// does a search text with no word in it; a blank one is no search at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArticleSelection {
    /// The articles that pass the filter.
    Filtered(ArticleFilter),
    /// No article: a value sent names nothing there can be.
    MatchesNothing,
}

impl Default for ArticleSelection {
    fn default() -> Self {
        ArticleSelection::Filtered(ArticleFilter::default())
    }
}

impl From<ArticleFilter> for ArticleSelection {
    fn from(filter: ArticleFilter) -> Self {
        ArticleSelection::Filtered(filter)
    }
}

impl ArticleSelection {
    /// The selection `sent` asks for. A tag names a stored tag only when it is one
    /// exactly as stored (a valid tag, already trimmed); a username only when it is a
    /// valid username. The one error: a search text longer than [`SearchQuery::MAX`].
    pub fn from_sent(sent: SentFilters<'_>) -> Result<Self, Invalid> {
        let search = match sent.search.filter(|text| !text.trim().is_empty()) {
            None => None,
            Some(text) => match SearchQuery::parse(text)? {
                Some(search) => Some(search),
                None => return Ok(ArticleSelection::MatchesNothing),
            },
        };
        let filter = (|| {
            Some(ArticleFilter {
                tag: named(sent.tag, |raw| {
                    TagName::parse(raw).ok().filter(|tag| tag.as_str() == raw)
                })?,
                author: named(sent.author, |raw| Username::parse(raw).ok())?,
                favorited_by: named(sent.favorited_by, |raw| Username::parse(raw).ok())?,
                search,
            })
        })();
        Ok(filter.map_or(ArticleSelection::MatchesNothing, ArticleSelection::Filtered))
    }
}

/// `Some(None)` when nothing was sent, `Some(Some(value))` when `parse` makes a value of
/// what was sent, `None` when it cannot (the value names nothing).
fn named<T>(sent: Option<&str>, parse: impl FnOnce(&str) -> Option<T>) -> Option<Option<T>> {
    match sent {
        None => Some(None),
        Some(raw) => parse(raw).map(Some),
    }
}

/// What creating an article stores, in one transaction with its tags.
#[derive(Debug, Clone)]
pub struct NewArticle {
    /// The author.
    pub author_id: UserId,
    /// Unique slug.
    pub slug: Slug,
    /// Title.
    pub title: ArticleTitle,
    /// Description.
    pub description: ArticleDescription,
    /// Body.
    pub body: ArticleBody,
    /// Tags, in the author's order, without duplicates.
    pub tags: Vec<TagName>,
    /// Creation time; also the first `updated_at`.
    pub created_at: Timestamp,
}

/// A change to an article. `None` leaves a field as it is; `tags: Some(vec![])` removes
/// every tag.
#[derive(Debug, Clone)]
pub struct ArticleChanges {
    /// New slug (set together with a new title).
    pub slug: Option<Slug>,
    /// New title.
    pub title: Option<ArticleTitle>,
    /// New description.
    pub description: Option<ArticleDescription>,
    /// New body.
    pub body: Option<ArticleBody>,
    /// New tag list, replacing the old one.
    pub tags: Option<Vec<TagName>>,
    /// Time of the change.
    pub updated_at: Timestamp,
}

/// The facts about an article that writes and permission checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleRef {
    /// Storage id.
    pub id: ArticleId,
    /// Current slug.
    pub slug: String,
    /// Current title.
    pub title: String,
    /// Author.
    pub author_id: UserId,
    /// Last change.
    pub updated_at: Timestamp,
}

/// An article as a list shows it: everything but the body, seen by one viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleSummary {
    /// Storage id (never shown to clients).
    pub id: ArticleId,
    /// Slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Tags, in the author's order.
    pub tags: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Whether the viewer has favorited it; `false` for anonymous viewers.
    pub favorited: bool,
    /// How many users have favorited it.
    pub favorites_count: u64,
    /// The author's profile, as the viewer sees it.
    pub author: Profile,
}

/// A whole article, seen by one viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleView {
    /// Everything but the body.
    pub summary: ArticleSummary,
    /// The body.
    pub body: String,
}

/// One page of articles and the number of articles matching in all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArticlePage {
    /// The articles of the page, most recent first.
    pub articles: Vec<ArticleSummary>,
    /// How many articles match, across all pages.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title(raw: &str) -> ArticleTitle {
        ArticleTitle::parse(raw).expect("valid title")
    }

    #[test]
    fn slug_from_title_is_kebab_case() {
        assert_eq!(
            Slug::from_title(&title("How to train your dragon"), None).as_str(),
            "how-to-train-your-dragon"
        );
        assert_eq!(
            Slug::from_title(&title("  Rust: 2024 -- edition! "), None).as_str(),
            "rust-2024-edition"
        );
        assert_eq!(Slug::from_title(&title("日本語"), None).as_str(), "article");
        assert_eq!(
            Slug::from_title(&title("Dup Title"), Some("A1b2")).as_str(),
            "dup-title-a1b2"
        );
    }

    #[test]
    fn slug_from_long_title_is_cut_at_a_word_and_stays_parseable() {
        let long = "word ".repeat(50);
        let slug = Slug::from_title(&title(&long), Some("x9"));
        assert!(slug.as_str().len() <= 96 + 3);
        assert!(!slug.as_str().contains("--"));
        assert!(Slug::parse(slug.as_str()).is_ok());
        let one_word = "a".repeat(200);
        assert_eq!(Slug::from_title(&title(&one_word), None).as_str().len(), 96);
    }

    #[test]
    fn slug_parse_rejects_what_a_slug_never_contains() {
        assert!(Slug::parse("unknown-slug-123").is_ok());
        for bad in ["", "Upper", "a b", "a/b", "é"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn article_text_rules() {
        assert_eq!(ArticleTitle::parse(""), Err(Invalid::Blank));
        assert_eq!(ArticleDescription::parse("  "), Err(Invalid::Blank));
        assert_eq!(ArticleBody::parse("\n"), Err(Invalid::Blank));
        assert_eq!(
            ArticleBody::parse(" keep spaces ").map(ArticleBody::into_inner),
            Ok(" keep spaces ".into())
        );
        assert_eq!(
            ArticleTitle::parse(&"t".repeat(256)),
            Err(Invalid::TooLong { max: 255 })
        );
    }

    #[test]
    fn tag_lists_are_deduplicated_in_order_and_bounded() {
        let tags = TagName::parse_list(&["b", " a ", "b"]).expect("valid");
        let names: Vec<_> = tags.iter().map(TagName::as_str).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(TagName::parse_list(&["ok", ""]), Err(Invalid::Blank));
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(
            TagName::parse_list(&many),
            Err(Invalid::TooMany { max: 20 })
        );
        assert!(TagName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn values_that_name_nothing_select_nothing() {
        let sent = |tag, author, favorited_by| {
            ArticleSelection::from_sent(SentFilters {
                tag,
                author,
                favorited_by,
                search: None,
            })
            .expect("no search, no error")
        };
        assert_eq!(sent(None, None, None), ArticleSelection::default());
        let ArticleSelection::Filtered(filter) = sent(Some("rust"), Some("Jake"), Some("ann"))
        else {
            panic!("valid values select");
        };
        assert_eq!(filter.tag.as_ref().map(TagName::as_str), Some("rust"));
        assert_eq!(filter.author.as_ref().map(Username::as_str), Some("Jake"));
        assert_eq!(
            filter.favorited_by.as_ref().map(Username::as_str),
            Some("ann")
        );
        let long_tag = "t".repeat(65);
        for nothing in [
            sent(Some("a\0b"), None, None),
            sent(Some(" rust"), None, None),
            sent(Some(""), None, None),
            sent(Some(&long_tag), None, None),
            sent(None, Some("ja ke"), None),
            sent(None, Some("jake\0"), None),
            sent(Some("rust"), None, Some("")),
            sent(None, None, Some("K\u{212A}")),
        ] {
            assert_eq!(nothing, ArticleSelection::MatchesNothing);
        }
    }

    #[test]
    fn searches_are_words_and_blank_ones_search_nothing() {
        let search = |q: &str| {
            ArticleSelection::from_sent(SentFilters {
                search: Some(q),
                ..SentFilters::default()
            })
        };
        let terms = |q: &str| match search(q) {
            Ok(ArticleSelection::Filtered(ArticleFilter {
                search: Some(search),
                ..
            })) => search.terms().to_vec(),
            other => panic!("{q:?} gave {other:?}"),
        };
        assert_eq!(
            terms("  Rust, \"async\" -OR rust* Café\u{0}日本 "),
            ["rust", "async", "or", "café", "日本"]
        );
        assert_eq!(search("   "), Ok(ArticleSelection::default()));
        assert_eq!(search("\"-*:()"), Ok(ArticleSelection::MatchesNothing));
        assert_eq!(search("\u{0}"), Ok(ArticleSelection::MatchesNothing));
        let longest = format!("  {}  ", "a".repeat(SearchQuery::MAX));
        assert_eq!(terms(&longest).len(), 1);
        let longer = "a".repeat(SearchQuery::MAX + 1);
        assert_eq!(search(&longer), Err(Invalid::TooLong { max: 200 }));
        // A text too long is refused even when another value names nothing.
        let both = ArticleSelection::from_sent(SentFilters {
            tag: Some(" x"),
            search: Some(&longer),
            ..SentFilters::default()
        });
        assert_eq!(both, Err(Invalid::TooLong { max: 200 }));
    }
}
