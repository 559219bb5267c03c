//! Trace context for a process that exports no spans: each span at INFO or
//! above gets its trace id (its parent's, or a new one for a root) and its
//! own span id, and nothing else. That is all that leaves the process when
//! nothing is exported: the `traceparent` of the calls it makes and of the
//! events it writes, the trace ids in its log lines and audit records.
//!
//! The OpenTelemetry layer builds a whole span per `tracing` span (its
//! attributes, times, sampling, then the span the SDK drops at once, as it
//! has nowhere to send it): most of what a call's frame cost over bare tonic
//! (docs/benchmarks.md, "Framework"). [`crate::telemetry`] installs this
//! layer instead of it when no exporter is configured, and reads a span's
//! trace context from whichever of the two holds it.
//!
//! A root span is sampled, as the SDK's default sampler
//! (`parentbased_always_on`) would have it; a child keeps its parent's
//! flags and trace state, so the decision of a caller that exports reaches
//! a callee that does.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use tracing::span;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// A span's trace context, kept in its extensions by [`TraceIdLayer`].
#[derive(Debug, Clone)]
pub(crate) struct TraceIds(pub(crate) SpanContext);

/// Gives every span it sees its [`TraceIds`]: the spans the subscriber
/// admits, which are those at INFO and above unless `RUST_LOG` asks for
/// more (`telemetry::Admit`).
pub(crate) struct TraceIdLayer;

impl<S> tracing_subscriber::Layer<S> for TraceIdLayer
where
    S: tracing::Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_new_span(
        &self,
        _attributes: &span::Attributes<'_>,
        id: &span::Id,
        context: Context<'_, S>,
    ) {
        let Some(span) = context.span(id) else {
            return;
        };
        let parent = span.parent().and_then(|parent| {
            parent
                .extensions()
                .get::<TraceIds>()
                .map(|ids| ids.0.clone())
        });
        span.extensions_mut()
            .insert(TraceIds(child_of(parent.as_ref())));
    }
}

/// A new span's context: in its parent's trace when it has one, else in a
/// trace of its own.
fn child_of(parent: Option<&SpanContext>) -> SpanContext {
    let span_id = SpanId::from(nonzero_random());
    match parent.filter(|parent| parent.is_valid()) {
        Some(parent) => in_trace_of(parent, span_id),
        None => SpanContext::new(
            TraceId::from((u128::from(nonzero_random()) << 64) | u128::from(nonzero_random())),
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
    }
}

/// The span `span_id` as `parent`'s child: in its trace, with its flags and
/// trace state.
fn in_trace_of(parent: &SpanContext, span_id: SpanId) -> SpanContext {
    SpanContext::new(
        parent.trace_id(),
        span_id,
        parent.trace_flags(),
        false,
        parent.trace_state().clone(),
    )
}

/// A random id, never zero (W3C's invalid id). From a per-thread wyrand
/// generator seeded from the operating system: ids must not repeat, not be
/// unguessable, and this costs a few instructions a span where the
/// cryptographic thread generator cost a hundred and more.
fn nonzero_random() -> u64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::random());
    }
    STATE.with(|state| {
        loop {
            let next = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(next);
            let mixed = u128::from(next) * u128::from(next ^ 0xe703_7ed1_a0b4_28db);
            let value = (mixed as u64) ^ ((mixed >> 64) as u64);
            if value != 0 {
                return value;
            }
        }
    })
}

/// `span`'s trace context, when this layer keeps it (else `None`: the
/// OpenTelemetry layer does, or the span is disabled).
pub(crate) fn of(span: &tracing::Span) -> Option<SpanContext> {
    with_ids(span, |ids| ids.0.clone())
}

/// Puts `span` in `parent`'s trace, as `parent`'s child, when this layer
/// keeps its context; `false` when it does not.
pub(crate) fn set_parent(span: &tracing::Span, parent: &SpanContext) -> bool {
    with_ids(span, |ids| {
        if parent.is_valid() {
            ids.0 = in_trace_of(parent, ids.0.span_id());
        }
    })
    .is_some()
}

fn with_ids<R>(span: &tracing::Span, read: impl FnOnce(&mut TraceIds) -> R) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let mut extensions = span.extensions_mut();
        extensions.get_mut::<TraceIds>().map(read)
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    fn subscriber() -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(TraceIdLayer)
    }

    #[test]
    fn a_root_starts_a_trace_its_children_share_with_ids_of_their_own() {
        tracing::subscriber::with_default(subscriber(), || {
            let root = tracing::info_span!("root");
            let child = root.in_scope(|| tracing::info_span!("child"));
            let explicit = tracing::info_span!(parent: &child, "grandchild");
            let other_root = tracing::info_span!("another root");
            let [root, child, explicit, other_root] =
                [&root, &child, &explicit, &other_root].map(|span| of(span).expect("kept"));
            assert!(root.is_valid() && root.is_sampled());
            assert_eq!(child.trace_id(), root.trace_id());
            assert_eq!(explicit.trace_id(), root.trace_id());
            assert_ne!(child.span_id(), root.span_id());
            assert_ne!(explicit.span_id(), child.span_id());
            assert_ne!(other_root.trace_id(), root.trace_id());
        });
    }

    #[test]
    fn a_parent_set_later_moves_the_span_into_its_trace_keeping_its_own_id() {
        tracing::subscriber::with_default(subscriber(), || {
            let span = tracing::info_span!("served");
            let own = of(&span).expect("kept");
            let caller = SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
                SpanId::from(0x00f0_67aa_0ba9_02b7),
                TraceFlags::default(),
                true,
                TraceState::from_key_value([("vendor", "value")]).unwrap(),
            );
            assert!(set_parent(&span, &caller));
            let moved = of(&span).expect("kept");
            assert_eq!(moved.trace_id(), caller.trace_id());
            assert_eq!(moved.span_id(), own.span_id());
            assert!(!moved.is_sampled(), "the caller's decision holds");
            assert_eq!(moved.trace_state().header(), "vendor=value");
            let child = span.in_scope(|| tracing::info_span!("a call it makes"));
            assert_eq!(of(&child).expect("kept").trace_id(), caller.trace_id());
        });
    }

    #[test]
    fn spans_below_info_and_spans_of_other_subscribers_have_none() {
        tracing::subscriber::with_default(subscriber(), || {
            let debug = tracing::debug_span!("a library's");
            assert!(of(&debug).is_none());
        });
        let elsewhere = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!("no layer")
        });
        assert!(of(&elsewhere).is_none());
        assert!(!set_parent(&elsewhere, &SpanContext::empty_context()));
    }
}
