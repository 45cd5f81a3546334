//! The JSON log line (`log.format = "json"`), written directly.
//!
//! [`JsonLines`] writes, byte for byte, the line of `tracing-subscriber`'s JSON format as
//! the log layer configures it (`fmt::layer().json().flatten_event(true)`): `timestamp`,
//! `level`, the event's fields, `target`, the current span as `span` and the spans from
//! the root as `spans`, each span's fields followed by its `name`. The stock format spent
//! most of the request log's time on two things this one does not do: it wrote through an
//! `io::Write` adaptor that checked each of the ~140 small pieces of a line for UTF-8, and
//! it parsed each span's stored fields back into a `serde_json::Value`, twice a line (for
//! `span` and for `spans`), only to write them out unchanged. Here the line is built in a
//! reused buffer, and a span's stored fields (a JSON object that [`SpanFields`] wrote,
//! keys in order) are copied as they are. A test compares both formats on the same
//! events.
//!
//! [`SpanFields`] stores a span's fields when it is created, as the stock `JsonFields`
//! does, byte for byte, without building a `serde_json::Value` for each field and a map
//! of them first: that was ~5% of the CPU of `GET /health/live` (docs/performance.md).

use std::{cell::RefCell, fmt};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_log::NormalizeEvent;
use tracing_subscriber::{
    field::RecordFields,
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::{JsonFields, Writer},
        time::{FormatTime, SystemTime},
    },
    registry::{LookupSpan, SpanRef},
};

/// The JSON event format of the log layer; `T` writes the timestamp.
#[derive(Debug, Clone, Default)]
pub struct JsonLines<T = SystemTime> {
    timer: T,
}

impl<T: FormatTime> JsonLines<T> {
    /// The format with timestamps from `timer`.
    pub fn with_timer(timer: T) -> Self {
        JsonLines { timer }
    }
}

/// What a line is built in: reused by every line a thread writes.
#[derive(Default)]
struct Buffers {
    line: Vec<u8>,
    timestamp: String,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl<S, T> FormatEvent<S, SpanFields> for JsonLines<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, SpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        BUFFERS.with(|buffers| match buffers.try_borrow_mut() {
            Ok(mut buffers) => self.write_line(ctx, &mut writer, event, &mut buffers),
            // An event logged while this thread formats one (by a field's `Debug`, say).
            Err(_) => self.write_line(ctx, &mut writer, event, &mut Buffers::default()),
        })
    }
}

impl<T: FormatTime> JsonLines<T> {
    fn write_line<S>(
        &self,
        ctx: &FmtContext<'_, S, SpanFields>,
        writer: &mut Writer<'_>,
        event: &Event<'_>,
        buffers: &mut Buffers,
    ) -> fmt::Result
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Buffers { line, timestamp } = buffers;
        line.clear();
        timestamp.clear();
        self.timer.format_time(&mut Writer::new(timestamp))?;
        // Events forwarded from the `log` crate name their origin in their fields.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        line.extend_from_slice(b"{\"timestamp\":");
        push_json(line, timestamp.as_str())?;
        line.extend_from_slice(b",\"level\":");
        push_json(line, meta.level().as_str())?;
        let mut fields = Fields {
            line,
            failed: false,
        };
        event.record(&mut fields);
        if fields.failed {
            return Err(fmt::Error);
        }
        line.extend_from_slice(b",\"target\":");
        push_json(line, meta.target())?;
        let current = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = &current {
            line.extend_from_slice(b",\"span\":");
            push_span(line, span)?;
            line.extend_from_slice(b",\"spans\":[");
            if let Some(leaf) = ctx.lookup_current() {
                for (i, span) in leaf.scope().from_root().enumerate() {
                    if i > 0 {
                        line.push(b',');
                    }
                    push_span(line, &span)?;
                }
            }
            line.push(b']');
        }
        line.extend_from_slice(b"}\n");
        writer.write_str(std::str::from_utf8(line).map_err(|_| fmt::Error)?)
    }
}

/// Appends `value` as JSON.
fn push_json<V: serde::Serialize + ?Sized>(line: &mut Vec<u8>, value: &V) -> fmt::Result {
    serde_json::to_writer(line, value).map_err(|_| fmt::Error)
}

/// Appends `"name":value`.
fn push_member<V: serde::Serialize + ?Sized>(
    line: &mut Vec<u8>,
    name: &str,
    value: &V,
) -> fmt::Result {
    push_json(line, name)?;
    line.push(b':');
    push_json(line, value)
}

/// Appends a span: its fields, then its `name`.
fn push_span<S>(line: &mut Vec<u8>, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: for<'a> LookupSpan<'a>,
{
    let extensions = span.extensions();
    let stored = extensions
        .get::<FormattedFields<SpanFields>>()
        .map_or("", |fields| fields.fields.as_str());
    match stored.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        // What `SpanFields` stores: a JSON object, keys sorted and unique.
        Some(members) => {
            line.push(b'{');
            line.extend_from_slice(members.as_bytes());
            if !members.is_empty() {
                line.push(b',');
            }
        }
        None => push_unexpected_fields(line, stored)?,
    }
    line.extend_from_slice(b"\"name\":");
    push_json(line, span.metadata().name())?;
    line.push(b'}');
    Ok(())
}

/// Stored span fields that are not a JSON object (never written by `SpanFields`): said
/// so in the line, as the stock format says it, instead of being lost.
fn push_unexpected_fields(line: &mut Vec<u8>, stored: &str) -> fmt::Result {
    line.push(b'{');
    match serde_json::from_str::<serde_json::Value>(stored) {
        Ok(serde_json::Value::Object(fields)) => {
            for (name, value) in &fields {
                push_json(line, name)?;
                line.push(b':');
                push_json(line, value)?;
                line.push(b',');
            }
        }
        Ok(value) => {
            line.extend_from_slice(b"\"field\":");
            push_json(line, &value)?;
            line.extend_from_slice(b",\"field_error\":\"field was no a valid object\",");
        }
        Err(error) => {
            line.extend_from_slice(b"\"field_error\":");
            push_json(line, &error.to_string())?;
            line.push(b',');
        }
    }
    Ok(())
}

/// How a span's fields are stored: the JSON object the stock `JsonFields` writes (keys
/// sorted, the last value of a key kept, `Debug` values as strings, `r#` taken off
/// names of `Debug` values, `log.` fields left out), written directly.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanFields;

impl<'writer> FormatFields<'writer> for SpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Members::default();
        fields.record(&mut members);
        members.write(&mut writer)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        if current.fields.is_empty() {
            return self.format_fields(current.as_writer(), fields);
        }
        // Rare (a field recorded after the span began, once a request at most): merged
        // as the stock format merges, by reading the stored object back.
        let mut stock = FormattedFields::<JsonFields>::new(std::mem::take(&mut current.fields));
        let merged = JsonFields::new().add_fields(&mut stock, fields);
        current.fields = stock.fields;
        merged
    }
}

/// A span's fields as they are recorded: each name with its value written as JSON.
#[derive(Default)]
struct Members {
    /// Each member as JSON (`"name":value`), in recording order.
    written: Vec<u8>,
    /// Each member's name and where it is in `written`.
    members: Vec<(&'static str, std::ops::Range<usize>)>,
    failed: bool,
}

impl Members {
    fn member<V: serde::Serialize + ?Sized>(&mut self, name: &'static str, value: &V) {
        let start = self.written.len();
        self.failed |= push_member(&mut self.written, name, value).is_err();
        self.members.push((name, start..self.written.len()));
    }

    fn write(mut self, writer: &mut Writer<'_>) -> fmt::Result {
        if self.failed {
            return Err(fmt::Error);
        }
        // Sorted by name, stable, so that of a repeated name the last is kept.
        self.members.sort_by(|a, b| a.0.cmp(b.0));
        let mut object = Vec::with_capacity(self.written.len() + self.members.len() + 2);
        object.push(b'{');
        for (i, (name, range)) in self.members.iter().enumerate() {
            if self.members.get(i + 1).is_some_and(|next| next.0 == *name) {
                continue;
            }
            if object.len() > 1 {
                object.push(b',');
            }
            object.extend_from_slice(&self.written[range.clone()]);
        }
        object.push(b'}');
        writer.write_str(std::str::from_utf8(&object).map_err(|_| fmt::Error)?)
    }
}

impl Visit for Members {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field.name(), &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field.name(), &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field.name(), &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field.name(), &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field.name(), value);
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.member(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.member(name, &format_args!("{value:?}"));
    }
}

/// Appends an event's fields as members of the line's object.
struct Fields<'a> {
    line: &'a mut Vec<u8>,
    /// Whether a field could not be written: the line is then dropped.
    failed: bool,
}

impl Fields<'_> {
    fn member<V: serde::Serialize + ?Sized>(&mut self, field: &Field, value: &V) {
        if self.failed {
            return;
        }
        self.line.push(b',');
        self.failed = push_member(self.line, field.name(), value).is_err();
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, &format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::{Level, field::Empty, subscriber::with_default};
    use tracing_subscriber::{Registry, fmt::MakeWriter, prelude::*};

    use super::*;

    /// Lines written by a subscriber, kept for the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
        }
    }

    /// Always the same time, so that lines can be compared.
    #[derive(Debug, Clone, Copy)]
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("2026-12-05T06:00:00.123456Z")
        }
    }

    /// Events of every kind of field, in spans of every kind, as the service logs them.
    fn events() {
        tracing::info!(target: "conduit", "outside any span");
        tracing::warn!(
            target: "conduit::test",
            text = "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓ \u{1F600}",
            unsigned = 18_446_744_073_709_551_615_u64,
            signed = -9_223_372_036_854_775_808_i64,
            float = 0.1_f64,
            tiny = 1e-300_f64,
            big = 1.5e300_f64,
            whole = 3.0_f64,
            nan = f64::NAN,
            yes = true,
            wide = 170_141_183_460_469_231_731_687_303_715_884_105_727_i128,
            debug = ?vec![Some("a"), None],
            display = %"shown \"as\" is",
            r#type = "raw name",
            "message with {} and \"quotes\"",
            42
        );
        let request = tracing::info_span!(
            "request",
            request_id = %"0955e5f03c44fafcd2029c6c3e16dadb",
            method = %"GET",
            route = %"/api/articles/{slug}",
            user_id = Empty,
            api_key_id = Empty,
        );
        request.in_scope(|| {
            tracing::info!(target: "conduit::http", status = 200_u64, latency_ms = 1.048994, "request");
        });
        request.record("user_id", 4_i64);
        request.record("api_key_id", tracing::field::display("key-1"));
        let inner =
            tracing::info_span!(target: "conduit_app", "list", limit = 20_u64, tag = ?Some("x\"y"));
        let empty = tracing::debug_span!("empty");
        request.in_scope(|| {
            inner.in_scope(|| {
                empty.in_scope(|| {
                    tracing::error!(target: "conduit::http", status = 500_u64, "request");
                    tracing::info!(parent: &request, "explicit parent");
                    tracing::info!(parent: None, "explicit root");
                });
            });
        });
        tracing::info!(parent: &inner, "a parent that is not entered");
        // Span fields of every kind, out of order, and a span recorded only later.
        let kinds = tracing::info_span!(
            target: "conduit",
            "kinds",
            zeta = "quote \" backslash \\ newline \n é ✓ \u{1F600}",
            alpha = 1.5_f64,
            nan = f64::NAN,
            yes = false,
            negative = -3_i64,
            bytes = &b"\x00\xff"[..],
            wide = 340_282_366_920_938_463_463_374_607_431_768_211_455_u128,
            r#type = ?"raw \"debug\"",
            shown = %"display",
            later = Empty,
        );
        let blank = tracing::info_span!(target: "conduit", "blank", first = Empty, second = Empty);
        blank.record("second", "b");
        blank.record("first", 1_u64);
        kinds.record("later", "recorded");
        kinds.in_scope(|| {
            blank.in_scope(|| tracing::info!(target: "conduit", "in spans of every kind"));
        });
        let _ = tracing::span!(Level::TRACE, "not recorded");
        tracing::info!(target: "conduit", "after the spans");
    }

    fn log_of<L>(layer: impl FnOnce(Captured) -> L) -> String
    where
        L: tracing_subscriber::Layer<Registry> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(layer(captured.clone()));
        with_default(subscriber, events);
        captured.text()
    }

    #[test]
    fn lines_are_the_stock_json_format_byte_for_byte() {
        let stock = log_of(|w| {
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_timer(Fixed)
                .with_writer(w)
        });
        let ours = log_of(|w| {
            tracing_subscriber::fmt::layer()
                .fmt_fields(SpanFields)
                .event_format(JsonLines::with_timer(Fixed))
                .with_writer(w)
        });
        assert!(stock.lines().count() >= 8, "{stock}");
        for (stock, ours) in stock.lines().zip(ours.lines()) {
            assert_eq!(ours, stock);
        }
        assert_eq!(ours, stock);
    }
}
