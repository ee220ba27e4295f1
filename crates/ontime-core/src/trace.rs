//! W3C Trace Context (`traceparent`): the trace a request belongs to, carried from the REST
//! request that defined a timer to every call it makes, so that a tracing system shows them
//! as one trace.
//!
//! `00-<trace id: 32 hex>-<parent id: 16 hex>-<flags: 2 hex>`, lower case; an all-zero id is
//! invalid (https://www.w3.org/TR/trace-context/#traceparent-header). [`span`] starts an
//! OpenTelemetry span within one, recorded when a tracer provider is installed.

use std::fmt;

use opentelemetry::Context;
use opentelemetry::trace::{
    Span, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use serde::{Deserialize, Serialize};

/// One `traceparent`: a trace, and the span that is the parent of what comes next in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// `01`: sampled.
    pub flags: u8,
}

impl TraceParent {
    /// Reads a `traceparent` header; `None` when it is not a valid version-00 one.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || version != "00" {
            return None;
        }
        let trace_id: [u8; 16] = hex_bytes(trace)?;
        let span_id: [u8; 8] = hex_bytes(span)?;
        let [flags] = hex_bytes::<1>(flags)?;
        let zero = trace_id == [0; 16] || span_id == [0; 8];
        (!zero).then_some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// A new trace, sampled, whose first span is `span_id`.
    pub fn root(trace_id: [u8; 16], span_id: [u8; 8]) -> Self {
        Self {
            trace_id,
            span_id,
            flags: 1,
        }
    }

    /// The same trace, with `span_id` as the parent of what comes next.
    pub fn child(&self, span_id: [u8; 8]) -> Self {
        Self { span_id, ..*self }
    }

    pub fn trace_hex(&self) -> String {
        crate::hex(&self.trace_id)
    }

    pub fn span_hex(&self) -> String {
        crate::hex(&self.span_id)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_hex(),
            self.span_hex(),
            self.flags
        )
    }
}

impl TryFrom<String> for TraceParent {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("not a traceparent: {text}"))
    }
}

impl From<TraceParent> for String {
    fn from(t: TraceParent) -> Self {
        t.to_string()
    }
}

/// Starts a span of `kind` under `parent` (or a new trace) with `tracer`, and the
/// `traceparent` of what follows it: the span's own when it is recorded, else (no tracer
/// provider installed) `unrecorded` as a span id under `parent`, or nothing without a parent.
pub fn span<T: Tracer>(
    tracer: T,
    name: String,
    kind: SpanKind,
    parent: Option<TraceParent>,
    unrecorded: [u8; 8],
) -> (T::Span, Option<TraceParent>) {
    let context = match parent {
        Some(p) => Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(p.trace_id),
            SpanId::from_bytes(p.span_id),
            TraceFlags::new(p.flags),
            true,
            TraceState::default(),
        )),
        None => Context::new(),
    };
    let span = tracer
        .span_builder(name)
        .with_kind(kind)
        .start_with_context(&tracer, &context);
    let own = span.span_context();
    let recorded = own.is_valid() && parent.is_none_or(|p| own.span_id().to_bytes() != p.span_id);
    let next = if recorded {
        Some(TraceParent {
            trace_id: own.trace_id().to_bytes(),
            span_id: own.span_id().to_bytes(),
            flags: own.trace_flags().to_u8(),
        })
    } else {
        parent.map(|p| p.child(unrecorded))
    };
    (span, next)
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparents_are_read_and_written_as_the_specification_gives_them() {
        let t = TraceParent::parse(EXAMPLE).unwrap();
        assert_eq!(t.trace_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_hex(), "00f067aa0ba902b7");
        assert_eq!(t.flags, 1);
        assert_eq!(t.to_string(), EXAMPLE);
        let child = t.child([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            child.to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01"
        );
        assert_eq!(serde_json::to_value(t).unwrap(), EXAMPLE);
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad}");
        }
    }
}
