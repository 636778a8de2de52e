//! The models. Each runs every interleaving of its threads that loom's preemption bound
//! allows (`LOOM_MAX_PREEMPTIONS`, 3 by default here), checking at every step that no
//! `UnsafeCell` access races, no thread waits forever (deadlock / lost wake-up), and the
//! assertions at the end of each execution.

mod cq;
mod future;
mod help_registry;
mod pool_retire;
mod pool_wake;
mod queue;

pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(3, f)
}

/// `model` with another default preemption bound, for a model whose threads run enough
/// atomic steps that bound 3 takes minutes (`LOOM_MAX_PREEMPTIONS` still overrides it).
pub(crate) fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(bound);
    }
    b.check(f);
}
